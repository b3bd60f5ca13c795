import { Redis } from 'ioredis';

/** The local development Redis when REDIS_URL is not set. */
export const defaultRedisUrl = 'redis://127.0.0.1:6379';

/**
 * An ioredis connection as BullMQ wants it: commands wait for a reconnect instead of failing
 * (maxRetriesPerRequest null), and reconnects back off up to 2 s forever.
 */
export function createRedis(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  });
}
