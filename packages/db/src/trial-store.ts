import type { Db } from './create-db';
import { deliveryJobId } from './delivery-store';
import { mergeConfigCurves, refreshTrialSummary } from './results-store';
import { Prisma } from './generated/prisma/client.ts';

export type TrialStatus = 'queued' | 'running' | 'completed' | 'failed' | 'diverged' | 'cancelled';

export interface ClaimedTrial {
  trialId: string;
  sweepId: string;
  attempt: number;
  config: unknown;
  totalSteps: number;
  /** The checkpoint an earlier attempt left, to resume from. */
  checkpointPath: string | null;
  checkpointStep: number | null;
}

/**
 * Claims a trial for `workerId` with a compare-and-set: it succeeds only when the trial is queued,
 * or running under a lease that has expired (its worker is gone), and its sweep is not cancelled.
 * Two deliveries of the same job can never both train it.
 */
export async function claimTrial(db: Db, trialId: string, workerId: string, leaseMs: number): Promise<ClaimedTrial | null> {
  const rows = await db.$queryRaw<
    { attempt: number; config: unknown; total_steps: number; sweep_id: string; checkpoint_path: string | null; checkpoint_step: number | null }[]
  >`
    UPDATE trials t
       SET status = 'running', attempt = t.attempt + 1, worker_id = ${workerId},
           lease_expires_at = now() + ${leaseMs} * interval '1 millisecond',
           started_at = now(), finished_at = NULL, error = NULL, training_started_at = NULL, train_ms = NULL
     WHERE t.id = ${trialId}::uuid
       AND (t.status = 'queued' OR (t.status = 'running' AND t.lease_expires_at < now()))
       AND NOT EXISTS (SELECT 1 FROM sweeps s WHERE s.id = t.sweep_id AND s.cancelled_at IS NOT NULL)
    RETURNING t.attempt, t.config, t.total_steps, t.sweep_id, t.checkpoint_path, t.checkpoint_step`;
  const r = rows[0];
  return r
    ? {
        trialId,
        sweepId: r.sweep_id,
        attempt: r.attempt,
        config: r.config,
        totalSteps: r.total_steps,
        checkpointPath: r.checkpoint_path,
        checkpointStep: r.checkpoint_step,
      }
    : null;
}

/** Extends a running attempt's lease; false when the attempt no longer owns the trial. */
export async function renewLease(db: Db, trialId: string, attempt: number, leaseMs: number): Promise<boolean> {
  const n = await db.$executeRaw`
    UPDATE trials SET lease_expires_at = now() + ${leaseMs} * interval '1 millisecond'
     WHERE id = ${trialId}::uuid AND attempt = ${attempt} AND status = 'running'`;
  return n === 1;
}

/** Where and with what a trial ran, so its result can be reproduced. */
export interface RunInfo {
  lrsweepVersion: string;
  tfjsVersion: string;
  backend: string;
  datasetChecksum: string;
  hardware: { cpuModel: string; cpuCount: number; gpu: string | null };
}

export async function recordRunInfo(db: Db, trialId: string, attempt: number, info: RunInfo): Promise<void> {
  await db.trial.updateMany({
    where: { id: trialId, attempt, status: 'running' },
    data: { ...info, hardware: info.hardware as unknown as Prisma.InputJsonValue },
  });
}

/** What a finished attempt records beyond its status; its metric summaries come from its evaluations. */
export interface TrialOutcomeInfo {
  divergedAtStep?: number | null;
  error?: string | null;
  /** Rows past this step, left by an earlier attempt, are removed. */
  stepsDone?: number;
  /** When this attempt's training loop started, and how long it ran. */
  trainingStartedAt?: Date;
  trainMs?: number;
}


/**
 * Ends a running attempt as completed, failed or diverged; false when it no longer owns the
 * trial. With `stepsDone`, rows an earlier attempt wrote past this attempt's end are removed, so
 * the series is exactly what this (deterministic) run wrote.
 */
export async function finishTrial(
  db: Db,
  trialId: string,
  attempt: number,
  status: 'completed' | 'failed' | 'diverged',
  summary: TrialOutcomeInfo,
): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const t = tx as unknown as Db;
    const done = await finishRow(t, trialId, attempt, status, summary);
    if (!done) return false;
    if (summary.stepsDone !== undefined) {
      await tx.$executeRaw`DELETE FROM update_metrics WHERE trial_id = ${trialId}::uuid AND step >= ${summary.stepsDone}`;
      await tx.$executeRaw`DELETE FROM evaluations WHERE trial_id = ${trialId}::uuid AND step > ${summary.stepsDone}`;
    }
    // Summaries come from the stored evaluations, so they always agree with them.
    await refreshTrialSummary(t, trialId);
    if (status === 'completed') await mergeConfigCurves(t, trialId);
    return true;
  });
}

async function finishRow(db: Db, trialId: string, attempt: number, status: 'completed' | 'failed' | 'diverged', summary: TrialOutcomeInfo) {
  const r = await db.trial.updateMany({
    where: { id: trialId, attempt, status: 'running' },
    data: {
      status,
      finishedAt: new Date(),
      leaseExpiresAt: null,
      checkpointPath: null,
      checkpointStep: null,
      divergedAtStep: summary.divergedAtStep ?? null,
      error: summary.error ?? null,
      trainingStartedAt: summary.trainingStartedAt ?? null,
      trainMs: summary.trainMs === undefined ? null : Math.round(summary.trainMs),
    },
  });
  return r.count === 1;
}

/**
 * Puts a running attempt back in the queue; null when it no longer owns the trial. With
 * `newDelivery` (its worker is shutting down) the trial gets a fresh job id to enqueue; without
 * it (an infrastructure error) the current job is retried by BullMQ with backoff.
 */
export async function releaseTrial(db: Db, trialId: string, attempt: number, opts: { newDelivery: boolean }): Promise<string | null> {
  const bump = opts.newDelivery ? 1 : 0;
  const rows = await db.$queryRaw<{ deliveries: number }[]>`
    UPDATE trials SET status = 'queued', worker_id = NULL, lease_expires_at = NULL,
           deliveries = deliveries + ${bump}::int,
           job_id = CASE WHEN ${bump}::int = 1 THEN 'trial-' || id::text || '-d' || (deliveries + 1)::text ELSE job_id END
     WHERE id = ${trialId}::uuid AND attempt = ${attempt} AND status = 'running'
    RETURNING deliveries`;
  const r = rows[0];
  return r ? deliveryJobId(trialId, r.deliveries) : null;
}

/** Records a checkpoint taken by a running attempt; false when the attempt no longer owns the trial. */
export async function recordCheckpoint(db: Db, trialId: string, attempt: number, path: string, step: number): Promise<boolean> {
  const r = await db.trial.updateMany({
    where: { id: trialId, attempt, status: 'running' },
    data: { checkpointPath: path, checkpointStep: step },
  });
  return r.count === 1;
}

/** Where a trial stands, for a delivery that could not claim it. */
export async function trialState(db: Db, trialId: string) {
  const t = await db.trial.findUnique({
    where: { id: trialId },
    select: { status: true, leaseExpiresAt: true, attempt: true, sweep: { select: { cancelledAt: true } } },
  });
  return t ? { status: t.status as TrialStatus, leaseExpiresAt: t.leaseExpiresAt, attempt: t.attempt, sweepCancelled: t.sweep.cancelledAt !== null } : null;
}
