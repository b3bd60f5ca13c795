import { timingSafeEqual } from 'node:crypto';
import { type Caller, can, type StaleReason } from '@lrsweep/contract';
import type { Db } from '@lrsweep/db';
import { trialForReport, trialTombstone } from '@lrsweep/engine';
import type { TrialConfig } from '@lrsweep/sweep';
import { ApiError, notFound, staleAttempt } from '../errors';

/**
 * Agent protocol 2's fence: who may write about a trial. Every write (and the rate read) names
 * the attempt and carries the lease token its claim handed out; anything else is refused before
 * a row is touched. The writes themselves are fenced by attempt in SQL too, so a trial that moves
 * on between this check and the write is caught there (`staleNow`).
 */
export function createFence(db: Db) {
  /**
   * A running trial of the caller's project and pools, held by `attempt` with its lease token:
   * else 404 (no such trial), 403 (not the caller's pool), 409 LEASE_MISMATCH (not the holder:
   * nothing is written) or 409 STALE_ATTEMPT with the reason the holder must stop. A deleted
   * sweep's trial answers STALE_ATTEMPT `deleted` while its tombstone lasts, never 404.
   */
  const owned = async (caller: Caller, trialId: string, attempt: number, leaseToken: string | undefined) => {
    const t = await trialForReport(db, trialId, caller.projectId);
    if (!t) {
      const tomb = await trialTombstone(db, trialId, caller.projectId);
      if (tomb && can.serve(caller, tomb.pool)) {
        throw staleAttempt(
          'deleted',
          `the sweep of trial ${trialId} was deleted: stop this trial without completing it`,
        );
      }
      throw notFound('trial', trialId);
    }
    if (!can.serve(caller, t.pool)) throw new ApiError('FORBIDDEN', `this token may not serve pool '${t.pool}'`);
    // An older attempt's token is gone with it: it is told to stop, and can write nothing.
    if (attempt < t.attempt) {
      throw stale(t.status === 'cancelled' || t.sweepCancelled ? 'cancelled' : 'superseded', attempt, t);
    }
    if (attempt !== t.attempt || !sameSecret(leaseToken, t.leaseToken)) {
      throw new ApiError(
        'LEASE_MISMATCH',
        `the write does not carry attempt ${attempt}'s lease token (the leaseToken its claim returned): nothing was written`,
      );
    }
    if (t.status !== 'running') throw stale(reasonOf(t), attempt, t);
    return { ...t, config: t.config as unknown as TrialConfig };
  };

  /** After a write the attempt's SQL fence refused: the trial moved on in between; why. */
  const staleNow = async (caller: Caller, trialId: string, attempt: number, leaseToken: string | undefined) => {
    await owned(caller, trialId, attempt, leaseToken);
    throw staleAttempt('lease_lost', `attempt ${attempt} no longer holds the trial: stop without completing`);
  };

  return { owned, staleNow: staleNow as (...a: Parameters<typeof staleNow>) => Promise<never> };
}
export type Fence = ReturnType<typeof createFence>;

/** Whether a presented lease token is the attempt's (compared in constant time). */
function sameSecret(given: string | undefined, held: string | null): boolean {
  if (!given || !held) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(held);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Why the holder of a trial that is no longer running must stop. */
function reasonOf(t: { status: string; sweepCancelled: boolean; errorCode: string | null }): StaleReason {
  if (t.status === 'cancelled' || t.sweepCancelled) return 'cancelled';
  // Back in the queue (its lease lapsed, or it was released), or failed once the lapse spent its budget.
  if (t.status === 'queued' || (t.status === 'failed' && t.errorCode === 'LEASE_LOST')) return 'lease_lost';
  return 'ended';
}

const stopWhy: Record<StaleReason, string> = {
  cancelled: 'the sweep was cancelled',
  deleted: 'the sweep was deleted',
  superseded: 'a newer attempt holds the trial',
  lease_lost: "the attempt's lease lapsed (the trial went to another agent, or will)",
  ended: 'the trial has ended',
};

const stale = (reason: StaleReason, attempt: number, t: { attempt: number; status: string }) =>
  staleAttempt(
    reason,
    `attempt ${attempt} may no longer write: ${stopWhy[reason]} (attempt ${t.attempt}, ${t.status}); stop this trial without completing it`,
  );
