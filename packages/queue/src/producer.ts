import { type Delivery, jobCatalog, poolQueueName } from '@lrsweep/contract';
import { type JobsOptions, Queue } from 'bullmq';
import { queuePrefix, type RedisConnection } from './connection';

export interface TrialQueueOptions {
  connection: RedisConnection;
  /** Redis key prefix: tests and deployments keep their queues apart with it. */
  prefix?: string;
}

/** Where a delivery goes: the queue of its project's pool, for its kind of runner. */
export interface PoolRef {
  projectId: string;
  pool: string;
  runner?: 'builtin' | 'external';
}

export type { Delivery } from '@lrsweep/contract';

const def = jobCatalog.runTrial;
const deliveryOptions: JobsOptions = { ...def.delivery };

/** The producer side: typed enqueueing over the catalog, one BullMQ queue per project and pool. */
export function createTrialQueue(opts: TrialQueueOptions) {
  const prefix = queuePrefix(opts.connection, opts.prefix ?? 'lrsweep');
  const queues = new Map<string, Queue>();
  const queueOf = (ref: PoolRef) => {
    const name = poolQueueName(ref.projectId, ref.pool, ref.runner);
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: opts.connection, prefix });
      q.on('error', () => {});
      queues.set(name, q);
    }
    return q;
  };
  /**
   * Runs `f` on a pool's queue. A BullMQ queue whose start-up check failed (Redis down or frozen
   * when it was made) keeps failing with that error, so a failed queue is dropped and the next
   * call makes a fresh one.
   */
  const onQueue = async <T>(ref: PoolRef, f: (q: Queue) => Promise<T>): Promise<T> => {
    const q = queueOf(ref);
    try {
      return await f(q);
    } catch (err) {
      if (queues.get(q.name) === q) queues.delete(q.name);
      void q.close().catch(() => {});
      throw err;
    }
  };
  return {
    /** The Redis key prefix of every queue (a consumer of them needs the same). */
    prefix,
    queueOf,
    /**
     * Enqueues deliveries (payloads validated against the catalog), per queue in batches of
     * 1 000. Each carries the job id Postgres recorded for it; BullMQ ignores an id it holds.
     */
    async enqueueTrials(deliveries: readonly Delivery[]): Promise<void> {
      const byQueue = new Map<string, Delivery[]>();
      for (const d of deliveries) {
        const name = poolQueueName(d.projectId, d.pool, d.runner);
        byQueue.set(name, [...(byQueue.get(name) ?? []), d]);
      }
      for (const list of byQueue.values()) {
        for (let i = 0; i < list.length; i += 1000) {
          const batch = list.slice(i, i + 1000).map((d) => ({
            name: def.name,
            data: def.payload.parse({ trialId: d.trialId, sweepId: d.sweepId }),
            opts: {
              ...deliveryOptions,
              jobId: d.jobId,
              ...(d.delayMs ? { delay: d.delayMs } : {}),
              ...(d.priority ? { priority: d.priority } : {}),
            },
          }));
          await onQueue(list[0]!, (q) => q.addBulk(batch));
        }
      }
    },
    /** Removes jobs that have not started; active ones stay (their worker sees the trial's state). */
    async removeJobs(ref: PoolRef, jobIds: readonly string[]): Promise<void> {
      await onQueue(ref, (q) => Promise.all(jobIds.map((id) => q.remove(id))));
    },
    /** How many jobs the pool's queue holds in each state (prioritized jobs sit in a sorted set, not the wait list). */
    jobCounts: (ref: PoolRef) =>
      onQueue(ref, (q) => q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed')),
    /** `waiting`, `active`, `delayed`, `completed`, `failed`, … or `unknown` when Redis does not hold it. */
    jobState: (ref: PoolRef, jobId: string) => onQueue(ref, (q) => q.getJobState(jobId)),
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      queues.clear();
    },
  };
}
export type TrialQueue = ReturnType<typeof createTrialQueue>;

/**
 * Work a trial's end makes due for others (held trials of a sweep with maxParallel, a trunk's
 * orphaned forks, rung decisions), which the API's reconciler also does: runs it and enqueues the
 * deliveries it returns. A failure loses nothing (the reconciler finds the same trials), so it is
 * handed to `onError` and the result is null. Shared by the worker and the agents' API.
 */
export async function enqueueDue<R extends { deliveries: readonly Delivery[] }>(
  queue: Pick<TrialQueue, 'enqueueTrials'>,
  work: () => Promise<R>,
  onError: (err: unknown) => void,
): Promise<R | null> {
  try {
    const r = await work();
    if (r.deliveries.length) await queue.enqueueTrials(r.deliveries);
    return r;
  } catch (err) {
    onError(err);
    return null;
  }
}
