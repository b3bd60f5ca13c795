// The API process: builds the clients once from the environment and listens.
import { createDb, ensureBootstrapToken } from '@lrsweep/db';
import { createRedis, createTrialQueue } from '@lrsweep/queue';
import pino from 'pino';
import { buildApp } from './app';
import { readEnv } from './env';
import { startReconciler } from './reconciler';

const env = readEnv();
const log = pino({
  level: env.LOG_LEVEL,
  base: { app: 'api' },
  // Tokens never reach the logs.
  redact: { paths: ['req.headers.authorization', 'headers.authorization', 'token', '*.token'], censor: '[redacted]' },
});
const { prisma, close: closeDb } = createDb({ url: env.DATABASE_URL, logger: log });
const redis = createRedis(env.REDIS_URL);
redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
const queue = createTrialQueue({ connection: redis, prefix: env.QUEUE_PREFIX });

if (env.LRSWEEP_BOOTSTRAP_TOKEN) {
  await ensureBootstrapToken(prisma, env.LRSWEEP_BOOTSTRAP_TOKEN);
  log.info('bootstrap token registered as an admin token of project "default"');
}
const app = await buildApp({
  db: prisma,
  redis,
  queue,
  maxTrials: env.MAX_TRIALS,
  bodyLimit: env.BODY_LIMIT,
  rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
  corsOrigins: env.CORS_ORIGINS,
  requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
  dashboardDir: env.DASHBOARD_DIR,
  logger: log,
});
await app.listen({ port: env.PORT, host: env.HOST });
const reconciler = startReconciler({ db: prisma, queue, log, intervalMs: env.RECONCILE_INTERVAL_MS });

async function shutdown(signal: string) {
  log.info({ signal }, 'shutting down');
  await reconciler.stop();
  await app.close();
  await queue.close();
  await Promise.all([closeDb(), redis.quit().catch(() => {})]);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
