import type { Delivery, TrialStatus } from '@lrsweep/contract';
import { type AshaTrial, ashaDecide, type AshaTrialConfig } from '@lrsweep/sweep';
import type { Db } from './create-db';
import { admitHeldTrials } from './delivery-store';
import { heldBy } from './ownership';
import { nextDeliveryOf } from './trial-store';

/**
 * ASHA searches (asha.ts in @lrsweep/sweep): a trial pauses at each rung, checkpointed, reports
 * its estimate and waits (queued, no delivery) for its configuration's decision. Decisions are
 * taken under the sweep's advisory lock, from what Postgres holds, whenever a trial reaches a rung
 * or ends (and by the reconciler as a backstop), so concurrent workers never promote twice.
 */

type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

export interface RungReport {
  trialId: string;
  attempt: number;
  /** The rung's index and budget (the update the run paused after). */
  rung: number;
  step: number;
  /** The estimate (null: its cooldown diverged). */
  value: number | null;
  cooldownSteps: number;
}

/**
 * A running attempt reached a rung: its estimate is stored once (a retried attempt reaching the
 * same rung keeps the first), the trial waits, and the sweep's decisions are taken. False when the
 * attempt no longer owns the trial. Answers the deliveries of trials promoted now, to enqueue.
 */
export async function reachRung(db: Db, r: RungReport): Promise<RungOutcome & { recorded: boolean }> {
  const [t] = await db.$queryRaw<{ sweep_id: string }[]>`SELECT sweep_id FROM trials WHERE id = ${r.trialId}::uuid`;
  if (!t) return { recorded: false, deliveries: [], pruned: [] };
  const out = await db.$transaction(async (tx) => {
    await lockSweep(tx, t.sweep_id);
    const n = await tx.$executeRaw`
      UPDATE trials SET status = 'queued', rung_waiting = true, worker_id = NULL, lease_expires_at = NULL, job_id = NULL
       WHERE ${heldBy(r.trialId, r.attempt)}`;
    if (n !== 1) return null;
    await tx.$executeRaw`
      INSERT INTO rung_results (trial_id, rung, step, value, cooldown_steps)
      VALUES (${r.trialId}::uuid, ${r.rung}::int, ${r.step}::int, ${r.value}::float8, ${r.cooldownSteps}::int)
      ON CONFLICT (trial_id, rung) DO NOTHING`;
    return decideLocked(tx, t.sweep_id);
  });
  if (!out) return { recorded: false, deliveries: [], pruned: [] };
  return { recorded: true, ...(await withAdmitted(db, t.sweep_id, out)) };
}

/** What a decision did: deliveries of the promoted trials (to enqueue), and the trials it pruned (their checkpoints can go). */
export interface RungOutcome {
  deliveries: Delivery[];
  pruned: string[];
}

/** Takes the rung decisions of a sweep that are certain now (after a trial ended, or as a backstop). */
export async function decideRungs(db: Db, sweepId: string): Promise<RungOutcome> {
  const out = await db.$transaction(async (tx) => {
    await lockSweep(tx, sweepId);
    return decideLocked(tx, sweepId);
  });
  return withAdmitted(db, sweepId, out);
}

/** ASHA sweeps with trials waiting at a rung: the reconciler decides for each. */
export async function sweepsWaitingAtRungs(db: Db): Promise<string[]> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT DISTINCT t.sweep_id AS id FROM trials t JOIN sweeps s ON s.id = t.sweep_id
     WHERE t.rung_waiting AND t.status = 'queued' AND s.cancelled_at IS NULL`;
  return rows.map((r) => r.id);
}

/** A sweep's rung decisions serialize on one advisory lock (the sweep row stays free for others). */
const lockSweep = (tx: Tx, sweepId: string) =>
  tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`asha:${sweepId}`}, 0))`;

interface Decided extends RungOutcome {
  /** Promoted trials left for maxParallel admission (no delivery yet). */
  held: boolean;
}

async function decideLocked(tx: Tx, sweepId: string): Promise<Decided> {
  const rows = await tx.$queryRaw<
    {
      id: string;
      config_id: string;
      status: TrialStatus;
      rung_waiting: boolean;
      asha: AshaTrialConfig | null;
      values: (number | null)[] | null;
      rungs: number[] | null;
    }[]
  >`
    SELECT t.id, t.config_id, t.status, t.rung_waiting, t.config -> 'asha' AS asha,
           array_agg(r.value ORDER BY r.rung) FILTER (WHERE r.rung IS NOT NULL) AS values,
           array_agg(r.rung ORDER BY r.rung) FILTER (WHERE r.rung IS NOT NULL) AS rungs
      FROM trials t LEFT JOIN rung_results r ON r.trial_id = t.id
     WHERE t.sweep_id = ${sweepId}::uuid
     GROUP BY t.id`;
  const asha = rows[0]?.asha;
  const [s] = await tx.$queryRaw<
    {
      search: { reduction: number } | null;
      cancelled: boolean;
      max_parallel: number | null;
      project_id: string;
      runner: 'builtin' | 'external';
    }[]
  >`
    SELECT spec -> 'search' AS search, cancelled_at IS NOT NULL AS cancelled, max_parallel, project_id, runner_kind AS runner FROM sweeps WHERE id = ${sweepId}::uuid`;
  if (!asha || !s?.search || s.cancelled) return { deliveries: [], pruned: [], held: false };
  const trials: AshaTrial[] = rows.map((r) => {
    const values: (number | undefined)[] = [];
    (r.rungs ?? []).forEach((k, i) => (values[k] = r.values![i] ?? Infinity));
    return { id: r.id, config: r.config_id, status: r.status, waiting: r.rung_waiting, values };
  });
  const d = ashaDecide(trials, { reduction: s.search.reduction, rungs: asha.rungs.length, mode: asha.mode });
  let pruned: string[] = [];
  if (d.prune.length) {
    const rows = await tx.$queryRaw<{ id: string }[]>`
      UPDATE trials t SET status = 'pruned', pruned_rung = u.rung, rung_waiting = false, finished_at = now(), worker_id = NULL, lease_expires_at = NULL
        FROM unnest(${d.prune.map((p) => p.id)}::uuid[], ${d.prune.map((p) => p.rung)}::int[]) AS u(id, rung)
       WHERE t.id = u.id AND t.status IN ('queued', 'running')
      RETURNING t.id`;
    pruned = rows.map((r) => r.id);
  }
  if (!d.promote.length) return { deliveries: [], pruned, held: false };
  // Promoted: each goes on from its rung checkpoint with a new delivery (or, under maxParallel, its turn).
  const promoted = await tx.$queryRaw<{ id: string; deliveries: number; pool: string; queue_priority: number }[]>`
    UPDATE trials SET rung_waiting = false WHERE id = ANY(${d.promote}::uuid[]) AND rung_waiting AND status = 'queued'
    RETURNING id, deliveries, pool, queue_priority`;
  if (s.max_parallel !== null) return { deliveries: [], pruned, held: promoted.length > 0 };
  const deliveries = promoted.map((p) =>
    nextDeliveryOf(p.id, { ...p, sweep_id: sweepId, project_id: s.project_id, runner: s.runner }),
  );
  await tx.$executeRaw`
    UPDATE trials t SET deliveries = t.deliveries + 1, job_id = u.job_id
      FROM unnest(${promoted.map((p) => p.id)}::uuid[], ${deliveries.map((d) => d.jobId)}::text[]) AS u(id, job_id) WHERE t.id = u.id`;
  return { deliveries, pruned, held: false };
}

const withAdmitted = async (db: Db, sweepId: string, d: Decided): Promise<RungOutcome> => ({
  deliveries: d.held ? [...d.deliveries, ...(await admitHeldTrials(db, sweepId))] : d.deliveries,
  pruned: d.pruned,
});

/** A sweep's pruned trials: each with its configuration, seed, the rung it stopped at (and its budget) and its estimate there. */
export async function prunedTrials(
  db: Db,
  sweepId: string,
): Promise<
  { trialId: string; configId: string; seed: number; rung: number; step: number | null; value: number | null }[]
> {
  const rows = await db.$queryRaw<
    { id: string; config_id: string; seed: number; rung: number; step: number | null; value: number | null }[]
  >`
    SELECT t.id, t.config_id, (t.config ->> 'seed')::int AS seed, t.pruned_rung AS rung, (t.config -> 'asha' -> 'rungs' ->> t.pruned_rung)::int AS step, r.value
      FROM trials t LEFT JOIN rung_results r ON r.trial_id = t.id AND r.rung = t.pruned_rung
     WHERE t.sweep_id = ${sweepId}::uuid AND t.status = 'pruned' ORDER BY t.ordinal`;
  return rows.map((r) => ({
    trialId: r.id,
    configId: r.config_id,
    seed: r.seed,
    rung: r.rung,
    step: r.step,
    value: r.value,
  }));
}
