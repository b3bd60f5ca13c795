import { jobCatalog, type RunTrialPayload } from '@lrsweep/contract';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';

export interface TrialWorkerOptions {
  /** The queue to consume (`poolQueueName(projectId, pool)`). */
  queueName: string;
  connection: Redis;
  prefix?: string;
  /** Deliveries handled at once by this consumer. */
  concurrency: number;
  lockDuration?: number;
  stalledInterval?: number;
  handler: (payload: RunTrialPayload, job: Job, token: string | undefined) => Promise<unknown>;
}

/** The consumer side of one queue: validates each payload against the catalog before the handler sees it. */
export function createTrialWorker(opts: TrialWorkerOptions): Worker {
  const def = jobCatalog.runTrial;
  return new Worker(
    opts.queueName,
    async (job, token) => {
      if (job.name !== def.name) throw new UnrecoverableError(`unknown job ${job.name}`);
      const parsed = def.payload.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid ${def.name} payload: ${parsed.error.message}`);
      return opts.handler(parsed.data, job, token);
    },
    {
      connection: opts.connection,
      prefix: opts.prefix ?? 'lrsweep',
      concurrency: opts.concurrency,
      lockDuration: opts.lockDuration ?? 30_000,
      stalledInterval: opts.stalledInterval ?? 30_000,
      // A stalled delivery (its worker died) goes back to the queue; Postgres decides whether it
      // trains, so stalls must not fail the job.
      maxStalledCount: 1000,
      autorun: false,
    },
  );
}
