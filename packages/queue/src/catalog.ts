import type { JobsOptions } from 'bullmq';
import { z } from 'zod';

/** The queue every trial goes through. */
export const trialQueueName = 'trials';

/**
 * The job catalog shared by producer (API) and consumer (worker): name → payload schema and the
 * delivery options. Payloads are validated when enqueued and again when dequeued.
 */
export const jobCatalog = {
  runTrial: {
    name: 'run-trial',
    payload: z.strictObject({ trialId: z.uuid(), sweepId: z.uuid() }),
    options: {
      // Postgres decides whether a delivery trains (compare-and-set claim); BullMQ retries
      // deliveries that fail for infrastructure reasons (Redis, database) with backoff.
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
      // Job ids are chosen by Postgres (one per delivery of a trial) and passed in.
      removeOnComplete: { count: 10_000 },
      removeOnFail: { count: 10_000 },
    } satisfies JobsOptions,
  },
} as const;

export type JobName = keyof typeof jobCatalog;
export type JobPayload<N extends JobName> = z.infer<(typeof jobCatalog)[N]['payload']>;
export type RunTrialPayload = JobPayload<'runTrial'>;
