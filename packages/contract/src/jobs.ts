import { z } from 'zod';

/** Project ids: 1–63 lowercase letters, digits and dashes. */
export const projectIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a project id is 1–63 lowercase letters, digits and dashes');
/** Pool names: 1–63 lowercase letters, digits, dashes and underscores. */
export const poolNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a pool name is 1–63 lowercase letters, digits, dashes and underscores');
export const defaultPool = 'default';

/**
 * The BullMQ queue of a project's pool (SWEEP_API.md v1.1: a queue per project and pool), one for
 * the built-in workers and one for external agents, so a pool name shared by both never hands a
 * trial to the wrong kind. BullMQ refuses ':' in queue names; ids and pool names never hold '.'.
 */
export const poolQueueName = (projectId: string, pool: string, runner: 'builtin' | 'external' = 'builtin') =>
  `${runner === 'external' ? 'agents' : 'trials'}.${projectId}.${pool}`;

/** The BullMQ job id of a trial's n-th delivery (the first keeps the plain id). */
export const deliveryJobId = (trialId: string, delivery: number) =>
  delivery <= 1 ? `trial-${trialId}` : `trial-${trialId}-d${delivery}`;

/** Sweep priorities: higher runs first; a sweep without one has 0. */
export const sweepPriorityRange = { min: -10, max: 10 } as const;
const positionsPerBand = 99_000;

/**
 * The BullMQ priority of a trial's deliveries (1 runs first; BullMQ takes 1 … 2^21). Fair share
 * within a pool's queue: every sweep priority is a band (higher bands run first), and inside a
 * band trials run by their queue position — a sweep's first trial takes the position of the
 * pool's next queued trial when it is submitted, so a sweep submitted later alternates with the
 * ones before it instead of waiting behind them (or jumping ahead of them). Positions past the
 * band's width run in submission order at its end.
 */
export function deliveryPriority(sweepPriority: number, position: number): number {
  const band =
    sweepPriorityRange.max -
    Math.max(sweepPriorityRange.min, Math.min(sweepPriorityRange.max, Math.trunc(sweepPriority)));
  return band * positionsPerBand + Math.max(0, Math.min(positionsPerBand - 1, Math.trunc(position))) + 1;
}

/**
 * The job catalog shared by producer (API) and consumer (worker): name → payload schema and the
 * delivery options. Payloads are validated when enqueued and again when dequeued. Delivery
 * retries (BullMQ `attempts`) cover only failures before a worker could claim the trial (Redis
 * or Postgres unreachable); what happens to a claimed trial is `trialRetryPolicy`'s, in Postgres.
 */
export const jobCatalog = {
  runTrial: {
    name: 'run-trial',
    payload: z.strictObject({ trialId: z.uuid(), sweepId: z.uuid() }),
    delivery: {
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { count: 10_000 },
      removeOnFail: { count: 10_000 },
    },
  },
} as const;
export type JobName = keyof typeof jobCatalog;
export type JobPayload<N extends JobName> = z.infer<(typeof jobCatalog)[N]['payload']>;
export type RunTrialPayload = JobPayload<'runTrial'>;

/**
 * One delivery of a trial, the one type every path hands the queue: its payload, its queue (the
 * project's pool, for its kind of runner), the job id Postgres recorded for it, a retry's delay
 * and its BullMQ priority (the trial's queue priority; none: plain FIFO).
 */
export interface Delivery extends RunTrialPayload {
  projectId: string;
  pool: string;
  runner?: 'builtin' | 'external';
  jobId: string;
  /** Held back this long first (a retry's backoff). */
  delayMs?: number;
  /** BullMQ priority (1 runs first: the trial's queue priority, contract deliveryPriority). */
  priority?: number;
}

/**
 * What a trial's failed attempts may cost, counted in Postgres by every path (worker, reconciler,
 * agents): retryable failures (a crash, a lost lease, infrastructure) spend the budget and run
 * again after a backoff; when `failureBudget` is spent the trial fails with the last reason.
 * Releases on shutdown (SIGTERM) spend nothing; a user's retry grants a fresh budget.
 */
export const trialRetryPolicy = {
  failureBudget: 3,
  /** Delay before the next attempt after the n-th failure (1-based). */
  retryDelayMs: (failures: number) => Math.min(60_000, 1000 * 2 ** Math.max(0, failures - 1)),
} as const;
