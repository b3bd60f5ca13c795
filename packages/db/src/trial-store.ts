import type { Db } from './create-db';
import { Prisma } from './generated/prisma/client.ts';

export type TrialStatus = 'queued' | 'running' | 'completed' | 'failed' | 'diverged' | 'cancelled';

export interface ClaimedTrial {
  trialId: string;
  sweepId: string;
  attempt: number;
  config: unknown;
  totalSteps: number;
}

/**
 * Claims a trial for `workerId` with a compare-and-set: it succeeds only when the trial is queued,
 * or running under a lease that has expired (its worker is gone), and its sweep is not cancelled.
 * Two deliveries of the same job can never both train it.
 */
export async function claimTrial(db: Db, trialId: string, workerId: string, leaseMs: number): Promise<ClaimedTrial | null> {
  const rows = await db.$queryRaw<{ attempt: number; config: unknown; total_steps: number; sweep_id: string }[]>`
    UPDATE trials t
       SET status = 'running', attempt = t.attempt + 1, worker_id = ${workerId},
           lease_expires_at = now() + ${leaseMs} * interval '1 millisecond',
           started_at = now(), finished_at = NULL, error = NULL
     WHERE t.id = ${trialId}::uuid
       AND (t.status = 'queued' OR (t.status = 'running' AND t.lease_expires_at < now()))
       AND NOT EXISTS (SELECT 1 FROM sweeps s WHERE s.id = t.sweep_id AND s.cancelled_at IS NOT NULL)
    RETURNING t.attempt, t.config, t.total_steps, t.sweep_id`;
  const r = rows[0];
  return r ? { trialId, sweepId: r.sweep_id, attempt: r.attempt, config: r.config, totalSteps: r.total_steps } : null;
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

export interface TrialSummary {
  finalTrainLoss?: number | null;
  finalValLoss?: number | null;
  finalValAcc?: number | null;
  bestValLoss?: number | null;
  bestValAcc?: number | null;
  divergedAtStep?: number | null;
  error?: string | null;
}

const finite = (v: number | null | undefined) => (v === undefined || v === null || !Number.isFinite(v) ? null : v);

/** Ends a running attempt as completed, failed or diverged; false when it no longer owns the trial. */
export async function finishTrial(
  db: Db,
  trialId: string,
  attempt: number,
  status: 'completed' | 'failed' | 'diverged',
  summary: TrialSummary,
): Promise<boolean> {
  const r = await db.trial.updateMany({
    where: { id: trialId, attempt, status: 'running' },
    data: {
      status,
      finishedAt: new Date(),
      leaseExpiresAt: null,
      finalTrainLoss: finite(summary.finalTrainLoss),
      finalValLoss: finite(summary.finalValLoss),
      finalValAcc: finite(summary.finalValAcc),
      bestValLoss: finite(summary.bestValLoss),
      bestValAcc: finite(summary.bestValAcc),
      divergedAtStep: summary.divergedAtStep ?? null,
      error: summary.error ?? null,
    },
  });
  return r.count === 1;
}

/** Puts a running attempt back in the queue (its worker is shutting down); false when it lost it. */
export async function releaseTrial(db: Db, trialId: string, attempt: number): Promise<boolean> {
  const r = await db.trial.updateMany({
    where: { id: trialId, attempt, status: 'running' },
    data: { status: 'queued', workerId: null, leaseExpiresAt: null },
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
