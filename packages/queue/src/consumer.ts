import { jobCatalog, type RunTrialPayload } from '@lrsweep/contract';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { queuePrefix, type RedisConnection } from './connection';

export interface TrialWorkerOptions {
  /** The queue to consume (`poolQueueName(projectId, pool)`). */
  queueName: string;
  connection: RedisConnection;
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
      prefix: queuePrefix(opts.connection, opts.prefix ?? 'lrsweep'),
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

/**
 * Jobs of one queue fetched one at a time by hand (BullMQ's manual processing), for a long
 * poll: `next` blocks up to a second for a job; the caller then completes, fails or delays it
 * with the same token. Its blocking Redis connection is its own (BullMQ duplicates `connection`).
 */
export function createTrialFetcher(o: {
  queueName: string;
  connection: RedisConnection;
  prefix?: string;
  onError?: (err: Error) => void;
}) {
  const w = new Worker(o.queueName, null, {
    connection: o.connection,
    prefix: queuePrefix(o.connection, o.prefix ?? 'lrsweep'),
    autorun: false,
    drainDelay: 1,
    lockDuration: 30_000,
  });
  w.on('error', (err) => o.onError?.(err));
  return {
    next: (token: string) => w.getNextJob(token, { block: true }) as Promise<Job | undefined>,
    close: () => w.close(),
  };
}
