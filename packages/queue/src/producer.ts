import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { jobCatalog, type RunTrialPayload, trialJobId, trialQueueName } from './catalog';

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
    /** Enqueues trials (validated against the catalog), in batches of 1 000. */
    async enqueueTrials(payloads: readonly RunTrialPayload[], generation = 0): Promise<void> {
      for (let i = 0; i < payloads.length; i += 1000) {
        const batch = payloads.slice(i, i + 1000).map((p) => ({
          name: def.name,
          data: def.payload.parse(p),
          opts: { ...def.options, jobId: trialJobId(p.trialId, generation) },
        }));
        await queue.addBulk(batch);
      }
    },
    async close() {
      await queue.close();
    },
  };
}
export type TrialQueue = ReturnType<typeof createTrialQueue>;
