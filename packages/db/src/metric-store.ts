import type { Db } from './create-db';
import { stillHeld } from './ownership';

export interface UpdateRow {
  step: number;
  lr: number;
  trainLoss: number | null;
}

export interface EvalRow {
  step: number;
  valLoss: number | null;
  valAcc: number | null;
  /** Mean training loss over the updates since the previous evaluation. */
  trainLoss?: number | null;
  /** Any other metric (test_* at the last evaluation); NaN and ±Infinity are stored as null. */
  metrics?: Record<string, number | null>;
}

const orNull = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? null : v);
const metricsJson = (m: EvalRow['metrics']) =>
  m && Object.keys(m).length
    ? JSON.stringify(Object.fromEntries(Object.entries(m).map(([k, v]) => [k, orNull(v)])))
    : null;

/**
 * Writes a batch of per-update rows for one attempt in one statement (`unnest`, ~90 k rows/s
 * against ~10 k for createMany). Rows are keyed by (trial, step): a retried attempt replaces what
 * an older one wrote, and nothing is written once a newer attempt owns the trial. Returns false
 * when the write was refused for that reason.
 */
export async function writeUpdates(
  db: Db,
  trialId: string,
  attempt: number,
  rows: readonly UpdateRow[],
): Promise<boolean> {
  if (rows.length === 0) return true;
  const n = await db.$executeRaw`
    INSERT INTO update_metrics (trial_id, step, lr, train_loss, attempt)
    SELECT ${trialId}::uuid, u.step, u.lr, u.loss, ${attempt}::int
      FROM unnest(${rows.map((r) => r.step)}::int[], ${rows.map((r) => r.lr)}::float8[],
                  ${rows.map((r) => orNull(r.trainLoss))}::float8[]) AS u(step, lr, loss)
     WHERE ${stillHeld(trialId, attempt)}
    ON CONFLICT (trial_id, step) DO UPDATE
       SET lr = EXCLUDED.lr, train_loss = EXCLUDED.train_loss, attempt = EXCLUDED.attempt
     WHERE update_metrics.attempt <= EXCLUDED.attempt`;
  return n === rows.length;
}

/** Like `writeUpdates`, for evaluation rows. */
export async function writeEvaluations(
  db: Db,
  trialId: string,
  attempt: number,
  rows: readonly EvalRow[],
): Promise<boolean> {
  if (rows.length === 0) return true;
  const n = await db.$executeRaw`
    INSERT INTO evaluations (trial_id, step, val_loss, val_acc, train_loss, metrics, attempt)
    SELECT ${trialId}::uuid, u.step, u.loss, u.acc, u.train, u.metrics::jsonb, ${attempt}::int
      FROM unnest(${rows.map((r) => r.step)}::int[], ${rows.map((r) => orNull(r.valLoss))}::float8[],
                  ${rows.map((r) => orNull(r.valAcc))}::float8[], ${rows.map((r) => orNull(r.trainLoss))}::float8[],
                  ${rows.map((r) => metricsJson(r.metrics))}::text[]) AS u(step, loss, acc, train, metrics)
     WHERE ${stillHeld(trialId, attempt)}
    ON CONFLICT (trial_id, step) DO UPDATE
       SET val_loss = EXCLUDED.val_loss, val_acc = EXCLUDED.val_acc, train_loss = EXCLUDED.train_loss,
           metrics = EXCLUDED.metrics, attempt = EXCLUDED.attempt
     WHERE evaluations.attempt <= EXCLUDED.attempt`;
  return n === rows.length;
}

/**
 * `writeUpdates` and `writeEvaluations` in one statement (one round trip: a trial's last batch
 * usually holds both). Both or neither are written: false when a newer attempt owns the trial.
 */
export async function writeMetrics(
  db: Db,
  trialId: string,
  attempt: number,
  updates: readonly UpdateRow[],
  evals: readonly EvalRow[],
): Promise<boolean> {
  return metricsWritten(await metricsStatement(db, trialId, attempt, updates, evals), updates, evals);
}

/** Whether `metricsStatement` wrote every row (false: a newer attempt owns the trial). */
export const metricsWritten = (
  rows: { owned: boolean; u: number; e: number }[],
  updates: readonly unknown[],
  evals: readonly unknown[],
) => {
  const r = rows[0];
  return !!r && r.owned && r.u === updates.length && r.e === evals.length;
};

/**
 * `writeMetrics`' statement, not yet run: a transaction of the engine's may hold it with others
 * (an attempt's last rows, its run info and its end go in one: trial-store's `finishTrial`).
 */
export function metricsStatement(
  db: Pick<Db, '$queryRaw'>,
  trialId: string,
  attempt: number,
  updates: readonly UpdateRow[],
  evals: readonly EvalRow[],
) {
  return db.$queryRaw<{ owned: boolean; u: number; e: number }[]>`
    WITH owner AS (SELECT ${stillHeld(trialId, attempt)} AS owned),
    u AS (
      INSERT INTO update_metrics (trial_id, step, lr, train_loss, attempt)
      SELECT ${trialId}::uuid, u.step, u.lr, u.loss, ${attempt}::int
        FROM unnest(${updates.map((r) => r.step)}::int[], ${updates.map((r) => r.lr)}::float8[],
                    ${updates.map((r) => orNull(r.trainLoss))}::float8[]) AS u(step, lr, loss)
       WHERE (SELECT owned FROM owner)
      ON CONFLICT (trial_id, step) DO UPDATE
         SET lr = EXCLUDED.lr, train_loss = EXCLUDED.train_loss, attempt = EXCLUDED.attempt
       WHERE update_metrics.attempt <= EXCLUDED.attempt
      RETURNING 1),
    e AS (
      INSERT INTO evaluations (trial_id, step, val_loss, val_acc, train_loss, metrics, attempt)
      SELECT ${trialId}::uuid, u.step, u.loss, u.acc, u.train, u.metrics::jsonb, ${attempt}::int
        FROM unnest(${evals.map((r) => r.step)}::int[], ${evals.map((r) => orNull(r.valLoss))}::float8[],
                    ${evals.map((r) => orNull(r.valAcc))}::float8[], ${evals.map((r) => orNull(r.trainLoss))}::float8[],
                    ${evals.map((r) => metricsJson(r.metrics))}::text[]) AS u(step, loss, acc, train, metrics)
       WHERE (SELECT owned FROM owner)
      ON CONFLICT (trial_id, step) DO UPDATE
         SET val_loss = EXCLUDED.val_loss, val_acc = EXCLUDED.val_acc, train_loss = EXCLUDED.train_loss,
             metrics = EXCLUDED.metrics, attempt = EXCLUDED.attempt
       WHERE evaluations.attempt <= EXCLUDED.attempt
      RETURNING 1)
    SELECT (SELECT owned FROM owner) AS owned, (SELECT count(*) FROM u)::int AS u, (SELECT count(*) FROM e)::int AS e`;
}
