// The API process: builds the clients once from the environment and listens.
import { createDb } from '@lrsweep/db';
import { createRedis, createTrialQueue } from '@lrsweep/queue';
import pino from 'pino';
import { buildApp } from './app';
import { readEnv } from './env';

const env = readEnv();
const log = pino({ level: env.LOG_LEVEL, base: { app: 'api' } });
const { prisma, close: closeDb } = createDb({ url: env.DATABASE_URL, logger: log });
const redis = createRedis(env.REDIS_URL);
redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
const queue = createTrialQueue({ connection: redis, prefix: env.QUEUE_PREFIX });

const app = await buildApp({ db: prisma, redis, queue, maxTrials: env.MAX_TRIALS, bodyLimit: env.BODY_LIMIT, logger: log });
await app.listen({ port: env.PORT, host: env.HOST });

async function shutdown(signal: string) {
  log.info({ signal }, 'shutting down');
  await app.close();
  await queue.close();
  await Promise.all([closeDb(), redis.quit().catch(() => {})]);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
