// The worker process: consumes its pools' queues and trains trials, WORKER_SLOTS at a time.
import { randomUUID } from 'node:crypto';
import { availableParallelism, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  createDb,
  type Db,
  deploymentId,
  heartbeatBuiltinWorker,
  registerBuiltinWorker,
  stopBuiltinWorker,
} from '@lrsweep/db';
import { createRedis, createTrialQueue, evictionWarning } from '@lrsweep/queue';
import type { RedisConnection as Redis } from '@lrsweep/queue';
import { setNativeThreads } from '@lrsweep/trainer';
import pino, { type Logger } from 'pino';
import { createCheckpointFiles } from './checkpoint-files';
import { sweepCheckpoints } from './checkpoint-sweeper';
import { createConsumers } from './consumers';
import { createDatasetCache } from './dataset-cache';
import { readEnv } from './env';
import { createTrialRunner } from './run-trial';
import { createSlotPool } from './slot-pool';
import { serveHealth, workerHealth } from './worker-health';
import { createWorkerMetrics } from './worker-metrics';
import { describeDevice } from './device';

const env = readEnv();
const log = pino({ level: env.LOG_LEVEL, base: { app: 'worker', workerId: env.WORKER_ID } });
const lrsweepVersion = process.env.npm_package_version ?? '0.1.0';

const { prisma, close: closeDb } = createDb({ url: env.DATABASE_URL, logger: log, poolSize: 2 + 2 * env.WORKER_SLOTS });
const redis = createRedis(env.REDIS_URL);
const producerRedis = createRedis(env.REDIS_URL);
for (const r of [redis, producerRedis]) r.on('error', (err) => log.debug({ err }, 'redis connection error'));
const queue = createTrialQueue({ connection: producerRedis, prefix: env.QUEUE_PREFIX });
// The native backend's CPU threads, shared out among the slots (before any thread loads it).
const nativeThreads = setNativeThreads(
  env.TF_THREADS ?? Math.max(1, Math.floor(availableParallelism() / env.WORKER_SLOTS)),
);
/** What one slot's trial may hold (MiB): the estimate's limit, TF's allocator cap in the trainer, the watchdog's allowance. */
const slotMemoryMb =
  env.WORKER_SLOT_MEMORY_MB ?? Math.max(256, Math.floor((totalmem() / 2 ** 20 - 2048) / env.WORKER_SLOTS));
const slots = createSlotPool(env.WORKER_SLOTS, env.LRSWEEP_BACKEND, log, { memoryMb: slotMemoryMb });
let shuttingDown = false;

/** Rejects when `p` has not settled within `ms` (a queue connection's commands wait for Redis forever). */
const within = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([
    p,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms).unref()),
  ]);

/** Waits, with backoff, until Postgres and Redis answer: the worker says it is connected only when it is. */
async function connect(db: Db, r: Redis, logger: Logger) {
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    const [pg, rd] = await Promise.allSettled([within(db.$queryRaw`SELECT 1`, 3000), within(r.ping(), 2000)]);
    if (pg.status === 'fulfilled' && rd.status === 'fulfilled') return;
    const down = [pg.status === 'rejected' ? 'Postgres' : null, rd.status === 'rejected' ? 'Redis' : null]
      .filter(Boolean)
      .join(' and ');
    logger.warn({ retryInMs: delay }, `waiting for ${down}`);
    await new Promise((res) => setTimeout(res, delay));
  }
}

/** Runs `fn` until it succeeds, with backoff: a database that drops right after connecting is waited for. */
async function retrying<T>(what: string, fn: () => Promise<T>, logger: Logger): Promise<T> {
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    try {
      return await fn();
    } catch (err) {
      logger.warn({ err, retryInMs: delay }, `could not read ${what}; retrying`);
      await new Promise((res) => setTimeout(res, delay));
    }
  }
}

await slots.start();
/** What this worker is, as its metrics and the registry report it. */
const identity = {
  pools: [...new Set(env.WORKER_POOLS.map((p) => p.pool))],
  backend: slots.backend?.name ?? env.LRSWEEP_BACKEND,
  device: slots.backend?.gpu ? 'gpu' : 'cpu',
  slots: env.WORKER_SLOTS,
  version: lrsweepVersion,
};
const metrics = createWorkerMetrics({ workerId: env.WORKER_ID, ...identity });
// The device itself (nvidia-smi on a GPU worker): registered, and recorded with every trial.
const device = describeDevice(Boolean(slots.backend?.gpu));
await connect(prisma, redis, log);
log.info('connected to Postgres and Redis');
// This deployment's checkpoints live in a namespace of their own inside CHECKPOINT_DIR.
const namespace = await retrying('the deployment id', () => within(deploymentId(prisma), 10_000), log);
const checkpoints = createCheckpointFiles(join(env.CHECKPOINT_DIR, namespace));
const eviction = await evictionWarning(redis).catch(() => null);
if (eviction) log.warn(eviction);
const runTrial = createTrialRunner({
  db: prisma,
  queue,
  log,
  workerId: env.WORKER_ID,
  leaseMs: env.LEASE_MS,
  flushMs: env.METRICS_FLUSH_MS,
  checkpointEvery: env.CHECKPOINT_EVERY,
  claimAheadMs: env.WORKER_CLAIM_AHEAD_MS,
  checkpoints,
  lrsweepVersion,
  datasets: createDatasetCache(log),
  dataRoot: env.DATA_ROOT,
  slotMemoryMb,
  modelRoot: env.MODEL_ROOT,
  shuttingDown: () => shuttingDown,
  device,
  metrics,
  numerics: () => slots.numerics,
});
const consumers = createConsumers({
  connection: redis,
  prefix: env.QUEUE_PREFIX,
  subscriptions: env.WORKER_POOLS,
  slots,
  lockDuration: env.LOCK_DURATION_MS,
  stalledInterval: env.STALLED_INTERVAL_MS,
  log,
  refreshMs: env.PROJECT_REFRESH_MS,
  listProjects: async () => (await prisma.project.findMany({ select: { id: true } })).map((p) => p.id),
  run: runTrial,
});
// What a crash between a trial's end and its clean-up left, now and from time to time.
const sweepNow = () =>
  sweepCheckpoints(prisma, checkpoints, log).catch((err) => log.warn({ err }, 'checkpoint sweep failed'));
await sweepNow();
const sweeper = setInterval(() => void sweepNow(), env.CHECKPOINT_SWEEP_MS);
sweeper.unref();
await consumers.start();
// The fleet's registry (GET /v1/workers): this process, its heartbeat, and a clean stop.
const registryId = randomUUID();
await registerBuiltinWorker(prisma, {
  id: registryId,
  name: env.WORKER_ID,
  host: hostname(),
  ...identity,
  deviceName: device.name,
  deviceMemoryMiB: device.memoryMiB,
  driver: device.driver,
  numerics: slots.numerics,
}).catch((err) => log.warn({ err }, 'could not register in the worker registry; training goes on'));
const heartbeat = setInterval(
  () => void heartbeatBuiltinWorker(prisma, registryId).catch((err) => log.debug({ err }, 'registry heartbeat failed')),
  env.WORKER_HEARTBEAT_MS,
);
heartbeat.unref();
if (env.WORKER_HEALTH_PORT !== undefined) {
  const health = () =>
    workerHealth({ redis, db: prisma, consumersHealthy: consumers.healthy, deadSlots: slots.deadSlots });
  const { port } = await serveHealth(env.WORKER_HEALTH_PORT, health, {
    host: env.WORKER_HEALTH_HOST,
    metrics: metrics.registry,
  });
  log.info({ port }, `worker health at http://127.0.0.1:${port}/healthz`);
}
log.info(
  {
    slots: env.WORKER_SLOTS,
    nativeThreads,
    backend: slots.backend,
    pools: env.WORKER_POOLS,
    queues: consumers.queues,
    checkpointDir: checkpoints.dir,
  },
  'worker started',
);

async function shutdown(signal: string) {
  if (shuttingDown) return;
  shuttingDown = true;
  log.info({ signal }, 'shutting down: running trials checkpoint and go back to the queue');
  const hardStop = setTimeout(() => {
    log.error('shutdown timed out; exiting');
    process.exit(1);
  }, env.SHUTDOWN_TIMEOUT_MS);
  hardStop.unref();
  clearInterval(heartbeat);
  // Running trials stop after their current update, checkpoint, and are released below.
  runTrial.stopRunning();
  try {
    await consumers.close();
    // Trials whose threads are done may still be recording their ends (and releases).
    await runTrial.settled();
    await Promise.all([slots.close(), queue.close()]);
    await stopBuiltinWorker(prisma, registryId).catch(() => {});
    await Promise.all([closeDb(), redis.quit().catch(() => {}), producerRedis.quit().catch(() => {})]);
  } finally {
    log.info('worker stopped');
    process.exit(0);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
