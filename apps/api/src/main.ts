// The API process: builds the clients once from the environment and listens.
import { checkDatabase, createDb, ensureBootstrapToken, redactUrl } from '@lrsweep/db';
import { createRedis, createTrialQueue, evictionWarning } from '@lrsweep/queue';
import { buildApp } from './app';
import { appSettings, readEnv } from './env';
import { createApiLogger } from './logger';
import { createApiMetrics } from './metrics';
import { startReconciler, tombstoneDefaultMs } from './reconciler';

const env = readEnv();
const log = createApiLogger(env.LOG_LEVEL);
const { prisma, close: closeDb } = createDb({ url: env.DATABASE_URL, logger: log });
// Without Postgres nothing can be answered: refuse to start, in one line naming the variable.
const reachable = await checkDatabase(prisma, 5000);
if (reachable !== true) {
  process.stderr.write(
    `lrsweep api: cannot reach Postgres at DATABASE_URL=${redactUrl(env.DATABASE_URL)} (${reachable}); start it or point DATABASE_URL at it\n`,
  );
  await closeDb().catch(() => {});
  process.exit(1);
}
// Requests never wait on Redis for long: its commands fail fast on the request path.
const redis = createRedis(env.REDIS_URL, { use: 'requests' });
redis.on('error', (err) => log.warn({ err }, 'redis connection error'));
const queue = createTrialQueue({ connection: redis, prefix: env.QUEUE_PREFIX });
// Checked once Redis answers (it may start after the API); a warning, since managed Redis may hide CONFIG.
void redis
  .ping()
  .then(() => evictionWarning(redis))
  .then((w) => w && log.warn(w))
  .catch(() => {});

if (env.LRSWEEP_BOOTSTRAP_TOKEN) {
  await ensureBootstrapToken(prisma, env.LRSWEEP_BOOTSTRAP_TOKEN);
  log.info('bootstrap token registered as the operator token (project "default")');
}
const metrics = createApiMetrics({ db: prisma, queue });
const app = await buildApp({ db: prisma, redis, queue, logger: log, metrics, ...appSettings(env) });
await app.listen({ port: env.PORT, host: env.HOST });
const reconciler = startReconciler({
  db: prisma,
  queue,
  log,
  intervalMs: env.RECONCILE_INTERVAL_MS,
  onRedelivered: (n) => metrics.reenqueued.inc(n),
  tombstoneMs: Math.max(tombstoneDefaultMs, 2 * env.AGENT_STALL_MS),
});

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
