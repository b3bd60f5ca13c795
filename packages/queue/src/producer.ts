import { jobCatalog, poolQueueName, type RunTrialPayload } from '@lrsweep/contract';
import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export interface TrialQueueOptions {
  connection: Redis;
  /** Redis key prefix: tests and deployments keep their queues apart with it. */
  prefix?: string;
}

/** Where a delivery goes: the queue of its project's pool. */
export interface PoolRef {
  projectId: string;
  pool: string;
}

/** One delivery of a trial: its payload, the job id Postgres recorded for it, and its queue. */
export interface Delivery extends RunTrialPayload, PoolRef {
  jobId: string;
  /** Held back this long first (a retry's backoff). */
  delayMs?: number;
}

const def = jobCatalog.runTrial;
const deliveryOptions: JobsOptions = { ...def.delivery };

/** The producer side: typed enqueueing over the catalog, one BullMQ queue per project and pool. */
export function createTrialQueue(opts: TrialQueueOptions) {
  const prefix = opts.prefix ?? 'lrsweep';
  const queues = new Map<string, Queue>();
  const queueOf = (ref: PoolRef) => {
    const name = poolQueueName(ref.projectId, ref.pool);
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: opts.connection, prefix });
      q.on('error', () => {});
      queues.set(name, q);
    }
    return q;
  };
  return {
    queueOf,
    /**
     * Enqueues deliveries (payloads validated against the catalog), per queue in batches of
     * 1 000. Each carries the job id Postgres recorded for it; BullMQ ignores an id it holds.
     */
    async enqueueTrials(deliveries: readonly Delivery[]): Promise<void> {
      const byQueue = new Map<Queue, Delivery[]>();
      for (const d of deliveries) {
        const q = queueOf(d);
        byQueue.set(q, [...(byQueue.get(q) ?? []), d]);
      }
      for (const [q, list] of byQueue) {
        for (let i = 0; i < list.length; i += 1000) {
          const batch = list.slice(i, i + 1000).map((d) => ({
            name: def.name,
            data: def.payload.parse({ trialId: d.trialId, sweepId: d.sweepId }),
            opts: { ...deliveryOptions, jobId: d.jobId, ...(d.delayMs ? { delay: d.delayMs } : {}) },
          }));
          await q.addBulk(batch);
        }
      }
    },
    /** Removes jobs that have not started; active ones stay (their worker sees the trial's state). */
    async removeJobs(ref: PoolRef, jobIds: readonly string[]): Promise<void> {
      const q = queueOf(ref);
      await Promise.all(jobIds.map((id) => q.remove(id).catch(() => 0)));
    },
    /** `waiting`, `active`, `delayed`, `completed`, `failed`, … or `unknown` when Redis does not hold it. */
    jobState: (ref: PoolRef, jobId: string) => queueOf(ref).getJobState(jobId),
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      queues.clear();
    },
  };
}
export type TrialQueue = ReturnType<typeof createTrialQueue>;
