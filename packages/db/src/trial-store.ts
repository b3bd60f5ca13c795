import {
  type Delivery,
  deliveryJobId,
  type TrialErrorCode,
  type TrialFailure,
  trialRetryPolicy,
  type TrialStatus,
} from '@lrsweep/contract';
import type { Db } from './create-db';
import { Prisma } from './generated/prisma/client.ts';
import { heldBy } from './ownership';
import { type EvalRow, metricsStatement, metricsWritten, type UpdateRow } from './metric-store';
import { finishInOneStatement, finishStatement, mergeConfigCurves, refreshTrialSummary } from './results-store';

export type { TrialStatus };

export interface ClaimedTrial {
  trialId: string;
  /** Its identity (a trunk's forks name it). */
  identity: string;
  sweepId: string;
  projectId: string;
  pool: string;
  attempt: number;
  config: unknown;
  totalSteps: number;
  /** The checkpoint an earlier attempt left, to resume from. */
  checkpointPath: string | null;
  checkpointStep: number | null;
  /** Its sweep's limit on running trials (null: none): when it ends, a held trial may start. */
  maxParallel: number | null;
  /** ASHA: the rungs it has been judged at (it trains on to the next one). */
  rungsReached: number;
  /** Its sweep's numerics key as recorded ({ id, key, reason, … }), or null before one is chosen. */
  numerics: { id: string; key: unknown; reason: string } | null;
}

/** What a trial's next delivery is made of: where it goes, and how many deliveries it had. */
export interface DeliverySource {
  trialId: string;
  sweepId: string;
  projectId: string;
  pool: string;
  runner: 'builtin' | 'external';
  /** Deliveries so far: the next one's job id counts on from it. */
  deliveries: number;
  priority?: number | null;
  delayMs?: number;
}

/**
 * The trial's next delivery, built in this one place for every path (first deliveries, retries,
 * releases, reconciler re-deliveries, held trials admitted, forks and promotions): its job id is
 * the contract's `deliveryJobId` of the delivery count that follows. The caller records that job
 * id on the trial in the same statement or transaction as it counts the delivery.
 */
export function nextDelivery(t: DeliverySource): Delivery {
  return {
    trialId: t.trialId,
    sweepId: t.sweepId,
    projectId: t.projectId,
    pool: t.pool,
    runner: t.runner,
    jobId: deliveryJobId(t.trialId, t.deliveries + 1),
    ...(t.delayMs !== undefined ? { delayMs: t.delayMs } : {}),
    ...(t.priority !== undefined && t.priority !== null ? { priority: t.priority } : {}),
  };
}

/** The columns a trial's next delivery is read from (trials joined with its sweep). */
export interface DeliveryRow {
  deliveries: number;
  sweep_id: string;
  pool: string;
  project_id: string;
  runner: 'builtin' | 'external';
  queue_priority: number | null;
}

/** `nextDelivery` of a trial from its DeliveryRow. */
export const nextDeliveryOf = (trialId: string, r: DeliveryRow, o: { delayMs?: number } = {}): Delivery =>
  nextDelivery({
    trialId,
    sweepId: r.sweep_id,
    projectId: r.project_id,
    pool: r.pool,
    runner: r.runner,
    deliveries: r.deliveries,
    priority: r.queue_priority,
    ...o,
  });

/**
 * A running attempt whose lease lapsed (its worker died, froze or lost its connection) spends one
 * failure of the trial's budget: it goes back to `queued`, or fails with that reason when the
 * budget is spent. A compare-and-set: concurrent callers count it once. Returns the new status,
 * or null when the trial was not running under a lapsed lease.
 */
export async function expireLapsedLease(
  db: Db,
  trialId: string,
): Promise<{ status: 'queued' | 'failed'; sweepId: string } | null> {
  const rows = await db.$queryRaw<{ status: 'queued' | 'failed'; sweep_id: string }[]>`
    UPDATE trials t SET
           failures = t.failures + 1,
           status = (CASE WHEN t.failures + 1 >= t.failure_budget THEN 'failed' ELSE 'queued' END)::"TrialStatus",
           error_code = 'LEASE_LOST',
           error = CASE WHEN t.failures + 1 >= t.failure_budget
                        THEN 'failed after ' || (t.failures + 1) || ' failed attempts; the last: attempt ' || t.attempt || ' stopped renewing its lease (its worker crashed, was killed or lost its connection)'
                        ELSE 'attempt ' || t.attempt || ' stopped renewing its lease (its worker crashed, was killed or lost its connection); retrying' END,
           finished_at = CASE WHEN t.failures + 1 >= t.failure_budget THEN now() ELSE NULL END,
           worker_id = NULL, lease_expires_at = NULL
     WHERE t.id = ${trialId}::uuid AND t.status = 'running' AND t.lease_expires_at < now()
    RETURNING t.status::text AS status, t.sweep_id`;
  const r = rows[0];
  if (!r) return null;
  if (r.status === 'failed') await refreshTrialSummary(db, trialId);
  return { status: r.status, sweepId: r.sweep_id };
}

/**
 * Claims a trial for `workerId` with a compare-and-set: it succeeds only when the trial is queued
 * (a running one under a lapsed lease is first counted as a failure, see `expireLapsedLease`),
 * its sweep is not cancelled, and its runner is the claimer's. Two deliveries of the same job can never both train it.
 */
export async function claimTrial(
  db: Db,
  trialId: string,
  workerId: string,
  leaseMs: number,
  /** Who claims: built-in workers train only built-in trials, agents only external ones (on any pool name). */
  runner: 'builtin' | 'external' = 'builtin',
  /**
   * The numerics keys (ids) the claimer can train under: a trial whose sweep recorded another key,
   * or whose spec asks for a backend none of them is, is not claimed (null: no check, as for
   * agents, whose trainers are their own).
   */
  numerics: readonly string[] | null = null,
): Promise<ClaimedTrial | null> {
  // The common case, a queued trial, in one statement; only when that fails may a lapsed lease
  // (a dead worker's) stand in the way: counted as a failure, then the claim is tried again.
  const claim = () => claimQueued(db, trialId, workerId, leaseMs, runner, numerics);
  return (await claim()) ?? ((await expireLapsedLease(db, trialId)) ? claim() : null);
}

async function claimQueued(
  db: Db,
  trialId: string,
  workerId: string,
  leaseMs: number,
  runner: 'builtin' | 'external',
  numerics: readonly string[] | null,
): Promise<ClaimedTrial | null> {
  const rows = await db.$queryRaw<
    {
      attempt: number;
      config: unknown;
      total_steps: number;
      sweep_id: string;
      project_id: string;
      pool: string;
      checkpoint_path: string | null;
      checkpoint_step: number | null;
      max_parallel: number | null;
      identity: string;
      rungs_reached: number;
      numerics: ClaimedTrial['numerics'];
    }[]
  >`
    UPDATE trials t
       SET status = 'running', attempt = t.attempt + 1, worker_id = ${workerId},
           lease_expires_at = now() + ${leaseMs} * interval '1 millisecond',
           started_at = now(), finished_at = NULL, training_started_at = NULL, train_ms = NULL
      FROM sweeps s
     WHERE t.id = ${trialId}::uuid AND s.id = t.sweep_id AND t.status = 'queued' AND NOT t.rung_waiting AND s.cancelled_at IS NULL AND s.runner_kind = ${runner}
       AND (${numerics as string[] | null}::text[] IS NULL OR (
             (s.numerics IS NULL OR s.numerics->>'id' = ANY(${numerics as string[] | null}::text[]))
             AND (coalesce(t.config->'training'->>'backend', 'auto') = 'auto'
                  OR t.config->'training'->>'backend' IN (SELECT split_part(k, ' ', 1) FROM unnest(${numerics as string[] | null}::text[]) k))))
    RETURNING t.attempt, t.config, t.total_steps, t.sweep_id, s.project_id, t.pool, t.checkpoint_path, t.checkpoint_step, s.max_parallel, t.identity, s.numerics,
              (SELECT count(*)::int FROM rung_results r WHERE r.trial_id = t.id) AS rungs_reached`;
  const r = rows[0];
  return r
    ? {
        trialId,
        identity: r.identity,
        sweepId: r.sweep_id,
        projectId: r.project_id,
        pool: r.pool,
        attempt: r.attempt,
        config: r.config,
        totalSteps: r.total_steps,
        checkpointPath: r.checkpoint_path,
        checkpointStep: r.checkpoint_step,
        rungsReached: r.rungs_reached,
        maxParallel: r.max_parallel,
        numerics: r.numerics,
      }
    : null;
}

/** Extends a running attempt's lease; false when the attempt no longer owns the trial. */
export async function renewLease(db: Db, trialId: string, attempt: number, leaseMs: number): Promise<boolean> {
  const n = await db.$executeRaw`
    UPDATE trials SET lease_expires_at = now() + ${leaseMs} * interval '1 millisecond'
     WHERE ${heldBy(trialId, attempt)}`;
  return n === 1;
}

/** Where and with what a trial ran, so its result can be reproduced. */
export interface RunInfo {
  lrsweepVersion: string;
  tfjsVersion: string;
  backend: string;
  datasetChecksum: string;
  /** The files read, relative to the worker's DATA_ROOT and MODEL_ROOT (null: none, or a built-in dataset). */
  datasetPath: string | null;
  modelPath: string | null;
  hardware: {
    cpuModel: string;
    cpuCount: number;
    gpu: string | null;
    gpuMemoryMiB?: number | null;
    driver?: string | null;
    /** The sweep's numerics key, as one line. */
    numerics?: string;
    fusedKernels?: boolean;
  };
}

/** Records where an attempt runs (raw SQL: once per trial, beside training, it should cost little CPU). */
export async function recordRunInfo(db: Db, trialId: string, attempt: number, info: RunInfo): Promise<void> {
  await runInfoStatement(db, trialId, attempt, info);
}

/** `recordRunInfo`'s statement, not yet run (a transaction of the engine's may hold it with others). */
export function runInfoStatement(db: Pick<Db, '$executeRaw'>, trialId: string, attempt: number, info: RunInfo) {
  return db.$executeRaw`
    UPDATE trials SET lrsweep_version = ${info.lrsweepVersion}, tfjs_version = ${info.tfjsVersion}, backend = ${info.backend},
           dataset_checksum = ${info.datasetChecksum}, dataset_path = ${info.datasetPath}::text, model_path = ${info.modelPath}::text,
           hardware = ${JSON.stringify(info.hardware)}::jsonb
             -- A resume on another kind of CPU is allowed (the key holds) and said: its bits may differ.
             || CASE WHEN checkpoint_step IS NOT NULL AND hardware->>'cpuModel' IS NOT NULL
                          AND hardware->>'cpuModel' IS DISTINCT FROM ${info.hardware.cpuModel}
                     THEN jsonb_build_object('resumedFromCpuModel', hardware->>'cpuModel') ELSE '{}'::jsonb END
     WHERE ${heldBy(trialId, attempt)}`;
}

/** What a finished attempt records beyond its status; its metric summaries come from its evaluations. */
export interface TrialOutcomeInfo {
  divergedAtStep?: number | null;
  error?: string | null;
  errorCode?: TrialErrorCode | null;
  /** Rows past this step, left by an earlier attempt, are removed. */
  stepsDone?: number;
  /** When this attempt's training loop started, and how long it ran. */
  trainingStartedAt?: Date;
  trainMs?: number;
}

/** What an attempt's end writes with it, in its one transaction: its last metric rows and its run info (not yet recorded). */
export interface FinalWrites {
  updates?: readonly UpdateRow[];
  evals?: readonly EvalRow[];
  runInfo?: RunInfo;
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
  final?: FinalWrites,
): Promise<boolean> {
  const set = Prisma.sql`
    status = ${status}::"TrialStatus", finished_at = now(), lease_expires_at = NULL, checkpoint_path = NULL, checkpoint_step = NULL,
    diverged_at_step = ${summary.divergedAtStep ?? null}::int, error = ${summary.error ?? null}::text, error_code = ${summary.errorCode ?? null}::text,
    training_started_at = ${summary.trainingStartedAt ?? null}::timestamptz,
    train_ms = ${summary.trainMs === undefined ? null : Math.round(summary.trainMs)}::int`;
  const updates = final?.updates ?? [];
  const evals = final?.evals ?? [];
  const rows = updates.length + evals.length > 0;
  // A first attempt has no earlier attempt's rows to trim: one statement (the common case), in
  // one transaction with the attempt's last rows and run info when it brings them.
  if (attempt <= 1 || summary.stepsDone === undefined) {
    if (!final) return finishInOneStatement(db, trialId, attempt, status, set);
    const out = await db.$transaction([
      metricsStatement(db, trialId, attempt, updates, evals),
      ...(final?.runInfo ? [runInfoStatement(db, trialId, attempt, final.runInfo)] : []),
      finishStatement(db, trialId, attempt, status, set),
    ]);
    const finished = (out.at(-1) as { n: number }[])[0]?.n === 1;
    return finished && metricsWritten(out[0] as { owned: boolean; u: number; e: number }[], updates, evals);
  }
  return db.$transaction(async (tx) => {
    const t = tx as unknown as Db;
    if (rows && !metricsWritten(await metricsStatement(t, trialId, attempt, updates, evals), updates, evals))
      return false;
    if (final?.runInfo) await runInfoStatement(t, trialId, attempt, final.runInfo);
    const done = await t.$executeRaw`UPDATE trials SET ${set} WHERE ${heldBy(trialId, attempt)}`;
    if (done !== 1) return false;
    await tx.$executeRaw`DELETE FROM update_metrics WHERE trial_id = ${trialId}::uuid AND step >= ${summary.stepsDone}`;
    await tx.$executeRaw`DELETE FROM evaluations WHERE trial_id = ${trialId}::uuid AND step > ${summary.stepsDone}`;
    // Summaries come from the stored evaluations, so they always agree with them.
    await refreshTrialSummary(t, trialId);
    if (status === 'completed') await mergeConfigCurves(t, trialId);
    return true;
  });
}

/**
 * Ends a running attempt that failed. A terminal failure fails the trial at once. A retryable
 * one spends one failure of the trial's budget: while budget is left the trial goes back to the
 * queue with a new delivery, held back by the policy's backoff (returned, to enqueue); when it is
 * spent the trial fails with this last reason. Null (nothing to enqueue) when it failed, or when
 * the attempt no longer owns the trial.
 */
export async function failAttempt(
  db: Db,
  trialId: string,
  attempt: number,
  failure: Pick<TrialFailure, 'code' | 'message'>,
  retryable: boolean,
): Promise<{ outcome: 'requeued'; delivery: Delivery } | { outcome: 'failed' | 'superseded' }> {
  return db.$transaction(async (tx) => {
    const [t] = await tx.$queryRaw<(DeliveryRow & { failures: number; failure_budget: number })[]>`
      SELECT t.failures, t.failure_budget, t.deliveries, t.sweep_id, t.pool, s.project_id, s.runner_kind AS runner, t.queue_priority FROM trials t JOIN sweeps s ON s.id = t.sweep_id
       WHERE ${heldBy(trialId, attempt, 't')} FOR UPDATE OF t`;
    if (!t) return { outcome: 'superseded' as const };
    const failures = t.failures + (retryable ? 1 : 0);
    const exhausted = !retryable || failures >= t.failure_budget;
    const error =
      retryable && exhausted
        ? `failed after ${failures} failed attempts; the last: ${failure.message}`
        : failure.message;
    if (exhausted) {
      await tx.trial.update({
        where: { id: trialId },
        data: {
          status: 'failed',
          failures,
          error,
          errorCode: failure.code,
          finishedAt: new Date(),
          leaseExpiresAt: null,
          workerId: null,
        },
      });
      await refreshTrialSummary(tx as unknown as Db, trialId);
      return { outcome: 'failed' as const };
    }
    const delivery = nextDeliveryOf(trialId, t, { delayMs: trialRetryPolicy.retryDelayMs(failures) });
    await tx.trial.update({
      where: { id: trialId },
      data: {
        status: 'queued',
        failures,
        error,
        errorCode: failure.code,
        leaseExpiresAt: null,
        workerId: null,
        deliveries: t.deliveries + 1,
        jobId: delivery.jobId,
      },
    });
    return { outcome: 'requeued' as const, delivery };
  });
}

/**
 * Gives a running attempt back to the queue with a new delivery (its worker is shutting down): a
 * release spends nothing of the trial's budget. Null when the attempt no longer owns the trial.
 */
export async function releaseTrial(db: Db, trialId: string, attempt: number): Promise<Delivery | null> {
  return db.$transaction(async (tx) => {
    const [t] = await tx.$queryRaw<DeliveryRow[]>`
      SELECT t.deliveries, t.sweep_id, t.pool, s.project_id, s.runner_kind AS runner, t.queue_priority FROM trials t JOIN sweeps s ON s.id = t.sweep_id
       WHERE ${heldBy(trialId, attempt, 't')} FOR UPDATE OF t`;
    if (!t) return null;
    const delivery = nextDeliveryOf(trialId, t);
    await tx.trial.update({
      where: { id: trialId },
      data: {
        status: 'queued',
        workerId: null,
        leaseExpiresAt: null,
        deliveries: t.deliveries + 1,
        jobId: delivery.jobId,
      },
    });
    return delivery;
  });
}

/** Records a checkpoint taken by a running attempt; false when the attempt no longer owns the trial. */
export async function recordCheckpoint(
  db: Db,
  trialId: string,
  attempt: number,
  path: string,
  step: number,
): Promise<boolean> {
  const n = await db.$executeRaw`
    UPDATE trials SET checkpoint_path = ${path}, checkpoint_step = ${step} WHERE ${heldBy(trialId, attempt)}`;
  return n === 1;
}

/** Where a trial stands, for a delivery that could not claim it. */
export async function trialState(db: Db, trialId: string) {
  const t = await db.trial.findUnique({
    where: { id: trialId },
    select: {
      status: true,
      leaseExpiresAt: true,
      attempt: true,
      config: true,
      sweep: { select: { cancelledAt: true, numerics: true } },
    },
  });
  return t
    ? {
        status: t.status as TrialStatus,
        leaseExpiresAt: t.leaseExpiresAt,
        attempt: t.attempt,
        sweepCancelled: t.sweep.cancelledAt !== null,
        /** The sweep's numerics key (its id), once recorded. */
        numericsId: (t.sweep.numerics as { id?: string } | null)?.id ?? null,
        /** The backend its spec asks for (`auto` unless it names one). */
        askedBackend: (t.config as { training?: { backend?: string } } | null)?.training?.backend ?? 'auto',
      }
    : null;
}
