import { Redis } from 'ioredis';

/** The local development Redis when REDIS_URL is not set. */
export const defaultRedisUrl = 'redis://127.0.0.1:6379';

export interface RedisOptions {
  /**
   * `consumer` (BullMQ workers' blocking connections): commands wait for a reconnect instead of
   * failing. `requests` (the API's request path): a command fails within `commandTimeoutMs`
   * when Redis is down or frozen, so no request hangs on it.
   */
  use?: 'consumer' | 'requests';
  commandTimeoutMs?: number;
}

/** An ioredis connection; reconnects back off up to 2 s, forever. */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  const failFast = opts.use === 'requests';
  return new Redis(url, {
    // Commands wait for a (re)connection in the offline queue, but never longer than the timeout.
    maxRetriesPerRequest: failFast ? 1 : null,
    ...(failFast ? { commandTimeout: opts.commandTimeoutMs ?? 2000, connectTimeout: opts.commandTimeoutMs ?? 2000 } : {}),
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  });
}
