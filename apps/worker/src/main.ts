// The worker process: pulls trials from BullMQ and trains them, WORKER_SLOTS at a time.
import { createDb } from '@lrsweep/db';
import { createRedis, createTrialQueue, createTrialWorker } from '@lrsweep/queue';
import pino from 'pino';
import { createCheckpointFiles } from './checkpoint-files';
import { createDatasetCache } from './dataset-cache';
import { readEnv } from './env';
import { createTrialRunner } from './run-trial';
import { createSlotPool } from './slot-pool';
import { serveHealth, workerHealth } from './worker-health';

const env = readEnv();
const log = pino({ level: env.LOG_LEVEL, base: { app: 'worker', workerId: env.WORKER_ID } });
const lrsweepVersion = process.env.npm_package_version ?? '0.1.0';

const { prisma, close: closeDb } = createDb({ url: env.DATABASE_URL, logger: log, poolSize: 2 + 2 * env.WORKER_SLOTS });
const redis = createRedis(env.REDIS_URL);
const producerRedis = createRedis(env.REDIS_URL);
for (const r of [redis, producerRedis]) r.on('error', (err) => log.debug({ err: err.message }, 'redis connection error'));
const queue = createTrialQueue({ connection: producerRedis, prefix: env.QUEUE_PREFIX });
const slots = createSlotPool(env.WORKER_SLOTS, env.LRSWEEP_BACKEND, log);
let shuttingDown = false;

await slots.start();
const worker = createTrialWorker({
  connection: redis,
  prefix: env.QUEUE_PREFIX,
  concurrency: env.WORKER_SLOTS,
  lockDuration: env.LOCK_DURATION_MS,
  stalledInterval: env.STALLED_INTERVAL_MS,
  handler: createTrialRunner({
    db: prisma,
    queue,
    log,
    workerId: env.WORKER_ID,
    leaseMs: env.LEASE_MS,
    flushMs: env.METRICS_FLUSH_MS,
    checkpointEvery: env.CHECKPOINT_EVERY,
    checkpoints: createCheckpointFiles(env.CHECKPOINT_DIR),
    lrsweepVersion,
    datasets: createDatasetCache(log),
    slots,
    shuttingDown: () => shuttingDown,
  }),
});
worker.on('error', (err) => log.warn({ err: err.message }, 'queue connection error'));
worker.on('failed', (job, err) => log.warn({ jobId: job?.id, err: err.message }, 'delivery failed'));
void worker.run();
if (env.WORKER_HEALTH_PORT !== undefined) {
  const { port } = await serveHealth(env.WORKER_HEALTH_PORT, () => workerHealth(worker, redis, prisma));
  log.info({ port }, `worker health at http://127.0.0.1:${port}/healthz`);
}
log.info({ slots: env.WORKER_SLOTS, backend: slots.backend, checkpointDir: env.CHECKPOINT_DIR }, 'worker started');

async function shutdown(signal: string) {
  if (shuttingDown) return;
  shuttingDown = true;
  log.info({ signal }, 'shutting down: running trials checkpoint and go back to the queue');
  const hardStop = setTimeout(() => {
    log.error('shutdown timed out; exiting');
    process.exit(1);
  }, env.SHUTDOWN_TIMEOUT_MS);
  hardStop.unref();
  try {
    await worker.close();
    await Promise.all([slots.close(), queue.close()]);
    await Promise.all([closeDb(), redis.quit().catch(() => {}), producerRedis.quit().catch(() => {})]);
  } finally {
    log.info('worker stopped');
    process.exit(0);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
