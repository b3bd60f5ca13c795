import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { jobCatalog, type RunTrialPayload, trialQueueName } from './catalog';

export interface TrialQueueOptions {
  connection: Redis;
  /** Redis key prefix: tests and deployments keep their queues apart with it. */
  prefix?: string;
}

/** The producer side: a typed `enqueueTrials` over the catalog. */
export function createTrialQueue(opts: TrialQueueOptions) {
  const queue = new Queue(trialQueueName, { connection: opts.connection, prefix: opts.prefix ?? 'lrsweep' });
  const def = jobCatalog.runTrial;
  return {
    queue,
    /**
     * Enqueues deliveries of trials (payloads validated against the catalog), in batches of
     * 1 000. Each carries the job id Postgres recorded for it; BullMQ ignores an id it holds.
     */
    async enqueueTrials(deliveries: readonly (RunTrialPayload & { jobId: string })[]): Promise<void> {
      for (let i = 0; i < deliveries.length; i += 1000) {
        const batch = deliveries.slice(i, i + 1000).map(({ jobId, ...p }) => ({
          name: def.name,
          data: def.payload.parse(p),
          opts: { ...def.options, jobId },
        }));
        await queue.addBulk(batch);
      }
    },
    /** Removes jobs that have not started; active ones stay (their worker sees the trial's state). */
    async removeJobs(jobIds: readonly string[]): Promise<void> {
      await Promise.all(jobIds.map((id) => queue.remove(id).catch(() => 0)));
    },
    /** `waiting`, `active`, `delayed`, `completed`, `failed`, … or `unknown` when Redis does not hold it. */
    jobState: (jobId: string) => queue.getJobState(jobId),
    async close() {
      await queue.close();
    },
  };
}
export type TrialQueue = ReturnType<typeof createTrialQueue>;
