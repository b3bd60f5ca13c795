import { z } from 'zod';

/**
 * A trial's states. `pruned`: stopped early by a search (ASHA) at a rung, not a failure.
 * `queued` and `running` are live; the rest are outcomes.
 */
export const trialStatuses = ['queued', 'running', 'completed', 'failed', 'diverged', 'cancelled', 'pruned'] as const;
export type TrialStatus = (typeof trialStatuses)[number];
export const trialStatusSchema = z.enum(trialStatuses);
export const liveTrialStatuses: readonly TrialStatus[] = ['queued', 'running'];
/** Whether a trial is live (queued or running): it may still train or write. */
export const trialLive = (s: string): boolean => (liveTrialStatuses as readonly string[]).includes(s);

/**
 * A sweep's state (SWEEP_API.md v1.1): `queued`/`running` while any trial is; once every trial
 * has ended, `completed` when at least one trial completed, `failed` when none did; `cancelled`
 * after a cancel.
 */
export const sweepStatuses = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type SweepStatus = (typeof sweepStatuses)[number];
export const sweepStatusSchema = z.enum(sweepStatuses);

export type StatusCounts = Record<TrialStatus, number> & { total: number };
export const emptyCounts = (): StatusCounts => ({
  total: 0,
  queued: 0,
  running: 0,
  completed: 0,
  failed: 0,
  diverged: 0,
  cancelled: 0,
  pruned: 0,
});

export function sweepStatusOf(counts: StatusCounts, cancelledAt: Date | string | null): SweepStatus {
  if (cancelledAt) return 'cancelled';
  if (counts.running > 0) return 'running';
  if (counts.queued > 0) return counts.queued === counts.total ? 'queued' : 'running';
  return counts.completed > 0 ? 'completed' : 'failed';
}

/** Whether a sweep has ended (nothing queued or running, or cancelled). */
export const sweepEnded = (s: SweepStatus) => s === 'completed' || s === 'failed' || s === 'cancelled';
