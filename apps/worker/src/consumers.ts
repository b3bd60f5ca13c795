import { poolQueueName, type RunTrialPayload } from '@lrsweep/contract';
import { createTrialWorker, DelayedError, type Job, type Worker } from '@lrsweep/queue';
import type { RedisConnection as Redis } from '@lrsweep/queue';
import type { Logger } from 'pino';
import type { PoolSubscription } from './env';
import type { SlotPool } from './slot-pool';
import type { TrainingSlot } from './training-slot';

export interface ConsumersOptions {
  connection: Redis;
  prefix: string;
  subscriptions: readonly PoolSubscription[];
  slots: SlotPool;
  lockDuration: number;
  stalledInterval: number;
  log: Logger;
  /** Every project (their pools' queues are consumed for subscriptions without a project). */
  listProjects(): Promise<string[]>;
  refreshMs: number;
  /** Handles one delivery on a reserved slot; resolves once the slot is free again (its `delivery` is the job's result). */
  run(
    payload: RunTrialPayload,
    job: Job,
    token: string | undefined,
    slot: TrainingSlot,
  ): Promise<{ delivery: unknown }>;
}

/**
 * The worker's BullMQ consumers: one per queue it serves (a queue per project and pool,
 * SWEEP_API.md v1.1), found in Postgres as projects appear. A delivery runs only on a free slot:
 * one that arrives when every slot is busy goes straight back to the queue for another worker,
 * and while every slot is busy the consumers stop fetching.
 */
export function createConsumers(o: ConsumersOptions) {
  const consumers = new Map<string, Worker>();
  let closed = false;
  let refreshing: Promise<void> = Promise.resolve();

  const processor = async (payload: RunTrialPayload, job: Job, token: string | undefined) => {
    const slot = o.slots.tryAcquire();
    if (!slot) {
      // Not ours to hold: back to the queue in a moment, for whichever worker has a slot.
      await job.moveToDelayed(Date.now() + 50 + Math.floor(Math.random() * 200), token);
      throw new DelayedError();
    }
    try {
      return (await o.run(payload, job, token, slot)).delivery;
    } finally {
      o.slots.release(slot);
    }
  };

  const subscribe = (projectId: string, pool: string) => {
    const name = poolQueueName(projectId, pool);
    if (closed || consumers.has(name)) return;
    const w = createTrialWorker({
      queueName: name,
      connection: o.connection,
      prefix: o.prefix,
      concurrency: o.slots.size,
      lockDuration: o.lockDuration,
      stalledInterval: o.stalledInterval,
      handler: processor,
    });
    w.on('error', (err) => o.log.warn({ err, queue: name }, 'queue connection error'));
    w.on('failed', (job, err) => o.log.warn({ jobId: job?.id, err, queue: name }, 'delivery failed'));
    consumers.set(name, w);
    if (o.slots.free === 0 && consumers.size > 1)
      for (const c of consumers.values()) if (!c.isPaused()) void c.pause(true);
    void w.run().catch((err) => o.log.error({ err, queue: name }, 'consumer stopped'));
    o.log.info({ queue: name, projectId, pool }, 'consuming');
  };

  const refresh = async () => {
    const everyProject = o.subscriptions.some((s) => s.projectId === null);
    const projects = everyProject ? await o.listProjects() : [];
    for (const s of o.subscriptions) {
      for (const p of s.projectId ? [s.projectId] : projects) subscribe(p, s.pool);
    }
  };

  // One consumer never holds more deliveries than there are slots (its concurrency is their
  // number), so it is left running: a delivery's completion then fetches the next in the same
  // Redis call. Several consumers share the slots: while every slot is busy they all pause.
  o.slots.onChange((free) => {
    if (consumers.size < 2) return;
    for (const w of consumers.values()) {
      if (free === 0 && !w.isPaused()) void w.pause(true);
      else if (free > 0 && w.isPaused()) void w.resume();
    }
  });

  const timer = setInterval(() => {
    refreshing = refresh().catch((err) => o.log.warn({ err }, 'could not look for new projects; retrying'));
  }, o.refreshMs);
  timer.unref();

  return {
    /** Subscribes to every queue there is now; later projects are picked up every `refreshMs`. */
    async start() {
      await refresh();
    },
    get queues() {
      return [...consumers.keys()];
    },
    /** Whether every consumer runs (or is paused because every slot is busy: it resumes when one frees). */
    healthy() {
      const all = [...consumers.values()];
      return all.length > 0 && all.every((w) => w.isRunning() || (w.isPaused() && o.slots.free === 0));
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await refreshing;
      await Promise.all([...consumers.values()].map((w) => w.close()));
    },
  };
}
export type Consumers = ReturnType<typeof createConsumers>;
