import type { Aggregate } from '@lrsweep/contract';
import type { Db } from './create-db';
import { Prisma } from './generated/prisma/client.ts';
import { heldBy } from './ownership';

export type { Aggregate };
export type MetricName = string;

/** The trial summary columns of the metrics every built-in trial reports (a fixed list: safe to splice into SQL). */
const summaryColumns: Record<string, Record<Aggregate, string>> = {
  val_loss: { final: 'final_val_loss', best: 'best_val_loss', auc: 'auc_val_loss' },
  val_acc: { final: 'final_val_acc', best: 'best_val_acc', auc: 'auc_val_acc' },
  train_loss: { final: 'final_train_loss', best: 'best_train_loss', auc: 'auc_train_loss' },
};

/**
 * A trial's objective value in SQL (table alias `t`): a summary column for the built-in metrics,
 * else its entry in the `summaries` JSON (final, min/max by the objective's mode, mean).
 */
function objectiveExpr(metric: string, aggregate: Aggregate, mode: 'min' | 'max'): Prisma.Sql {
  const col = summaryColumns[metric]?.[aggregate];
  if (col) return Prisma.raw(`t.${col}`);
  const key = aggregate === 'final' ? 'final' : aggregate === 'auc' ? 'mean' : mode;
  return Prisma.sql`(t.summaries -> ${metric} ->> ${key})::float8`;
}

/**
 * A trial's summaries from its evaluation rows, as one row (`SELECT`): fvl, fva, ftl (final), bvl,
 * bva, btl (best), avl, ava, atl (mean over evaluation points), and `summaries`, every other
 * metric's { final, min, max, mean }.
 */
const summaryOf = (trialId: string) => Prisma.sql`
  SELECT (array_agg(val_loss ORDER BY step DESC))[1] AS fvl,
         (array_agg(val_acc ORDER BY step DESC))[1] AS fva,
         (array_agg(train_loss ORDER BY step DESC))[1] AS ftl,
         min(val_loss) AS bvl, max(val_acc) AS bva, min(train_loss) AS btl,
         avg(val_loss) AS avl, avg(val_acc) AS ava, avg(train_loss) AS atl,
         (SELECT jsonb_object_agg(k, jsonb_build_object('final', fin, 'min', mn, 'max', mx, 'mean', av))
            FROM (SELECT m.key AS k, (array_agg(m.value::text::float8 ORDER BY e.step DESC))[1] AS fin,
                         min(m.value::text::float8) AS mn, max(m.value::text::float8) AS mx, avg(m.value::text::float8) AS av
                    FROM evaluations e CROSS JOIN LATERAL jsonb_each(e.metrics) m
                   WHERE e.trial_id = ${trialId}::uuid AND jsonb_typeof(m.value) = 'number'
                   GROUP BY m.key) per_metric) AS summaries
    FROM evaluations WHERE trial_id = ${trialId}::uuid`;

/** The SET list that stores `summaryOf`'s row (alias `s`) on a trial. */
const summarySet = Prisma.sql`
  final_val_loss = s.fvl, final_val_acc = s.fva, final_train_loss = s.ftl,
  best_val_loss = s.bvl, best_val_acc = s.bva, best_train_loss = s.btl,
  auc_val_loss = s.avl, auc_val_acc = s.ava, auc_train_loss = s.atl, summaries = s.summaries`;

/**
 * Recomputes a trial's summaries (final, best and mean over evaluation points, for every metric)
 * from its evaluation rows. The worker calls it as evaluations arrive, fenced by attempt.
 */
export async function refreshTrialSummary(db: Db, trialId: string, attempt?: number): Promise<boolean> {
  const n = await db.$executeRaw`
    UPDATE trials t SET ${summarySet}
      FROM (${summaryOf(trialId)}) s
     WHERE t.id = ${trialId}::uuid
       AND ${attempt === undefined ? Prisma.sql`TRUE` : heldBy(trialId, attempt, 't')}`;
  return n === 1;
}

/**
 * The statement that adds a completed trial's series to its configuration's (training loss and
 * applied LR per update, validation metrics per evaluation): per step, count, sum and sum of
 * squares, merged by step. `source` is a relation (alias `t`) of the trials to add: id,
 * sweep_id, config_id.
 */
const mergeCurvesFrom = (source: Prisma.Sql) => Prisma.sql`
    INSERT INTO config_series (sweep_id, config_id, metric, steps, n, sum, sumsq, lo, hi)
    SELECT t.sweep_id, t.config_id, m.metric, array_agg(m.step ORDER BY m.step), array_agg(1 ORDER BY m.step),
           array_agg(m.v ORDER BY m.step), array_agg(m.v * m.v ORDER BY m.step), array_agg(m.v ORDER BY m.step), array_agg(m.v ORDER BY m.step)
      FROM ${source} CROSS JOIN LATERAL (
        SELECT 'train_loss' AS metric, step, train_loss AS v FROM update_metrics WHERE trial_id = t.id AND train_loss IS NOT NULL
        UNION ALL SELECT 'lr', step, lr FROM update_metrics WHERE trial_id = t.id
        UNION ALL SELECT 'val_loss', step, val_loss FROM evaluations WHERE trial_id = t.id AND val_loss IS NOT NULL
        UNION ALL SELECT 'val_acc', step, val_acc FROM evaluations WHERE trial_id = t.id AND val_acc IS NOT NULL
        UNION ALL SELECT x.key, e.step, x.value::text::float8 FROM evaluations e CROSS JOIN LATERAL jsonb_each(e.metrics) x
                   WHERE e.trial_id = t.id AND jsonb_typeof(x.value) = 'number' AND NOT starts_with(x.key, 'test_')
      ) m
     GROUP BY t.sweep_id, t.config_id, m.metric
    ON CONFLICT (sweep_id, config_id, metric) DO UPDATE SET (steps, n, sum, sumsq, lo, hi) = (
      SELECT array_agg(step ORDER BY step), array_agg(n ORDER BY step), array_agg(sum ORDER BY step), array_agg(sumsq ORDER BY step),
             -- A series stored before ranges existed has none: its range stays unknown (null).
             CASE WHEN config_series.lo IS NULL THEN NULL ELSE array_agg(lo ORDER BY step) END,
             CASE WHEN config_series.hi IS NULL THEN NULL ELSE array_agg(hi ORDER BY step) END
        FROM (SELECT coalesce(a.step, b.step) AS step, coalesce(a.n, 0) + coalesce(b.n, 0) AS n,
                     coalesce(a.s, 0) + coalesce(b.s, 0) AS sum, coalesce(a.q, 0) + coalesce(b.q, 0) AS sumsq,
                     least(a.l, b.l) AS lo, greatest(a.h, b.h) AS hi
                FROM unnest(config_series.steps, config_series.n, config_series.sum, config_series.sumsq, config_series.lo, config_series.hi) AS a(step, n, s, q, l, h)
                FULL JOIN unnest(EXCLUDED.steps, EXCLUDED.n, EXCLUDED.sum, EXCLUDED.sumsq, EXCLUDED.lo, EXCLUDED.hi) AS b(step, n, s, q, l, h) ON a.step = b.step) merged)`;

/** Adds a completed trial's series to its configuration's. Called once, in the transaction that completes the trial. */
export async function mergeConfigCurves(db: Db, trialId: string): Promise<void> {
  await db.$executeRaw`${mergeCurvesFrom(Prisma.sql`(SELECT id, sweep_id, config_id FROM trials WHERE id = ${trialId}::uuid) t`)}`;
}

/**
 * Ends a running attempt in one statement: its status and outcome columns, its summaries from
 * its evaluations, and (completed) its series merged into its configuration's, only when the
 * attempt still owns the trial. For attempts with no earlier rows to trim (see `finishTrial`).
 * Returns whether it ended it.
 */
export async function finishInOneStatement(
  db: Db,
  trialId: string,
  attempt: number,
  status: 'completed' | 'failed' | 'diverged',
  set: Prisma.Sql,
): Promise<boolean> {
  return (await finishStatement(db, trialId, attempt, status, set))[0]?.n === 1;
}

/** `finishInOneStatement`'s statement, not yet run (a transaction of the engine's may hold it with others). */
export function finishStatement(
  db: Pick<Db, '$queryRaw'>,
  trialId: string,
  attempt: number,
  status: 'completed' | 'failed' | 'diverged',
  set: Prisma.Sql,
) {
  return db.$queryRaw<{ n: number }[]>`
    WITH s AS (${summaryOf(trialId)}),
         f AS (UPDATE trials t SET ${set}, ${summarySet}
                 FROM s WHERE ${heldBy(trialId, attempt, 't')}
               RETURNING t.id, t.sweep_id, t.config_id),
         m AS (${mergeCurvesFrom(Prisma.sql`(SELECT * FROM f WHERE ${status === 'completed'}) t`)} RETURNING 1)
    SELECT (SELECT count(*) FROM f)::int AS n, (SELECT count(*) FROM m)::int AS merged`;
}

export interface ConfigStatsRow {
  config_id: string;
  base_lr: number;
  schedule: unknown;
  values: unknown;
  horizon: number | null;
  schedule_family: string | null;
  schedule_key: string;
  seeds: number;
  diverged: number;
  n: number;
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
}

/** Per configuration: seeds, diverged seeds, and count, mean and sample std of the objective. */
export async function configStats(
  db: Db,
  sweepId: string,
  metric: MetricName,
  aggregate: Aggregate,
  mode: 'min' | 'max',
): Promise<ConfigStatsRow[]> {
  const v = objectiveExpr(metric, aggregate, mode);
  return db.$queryRaw<ConfigStatsRow[]>`
    SELECT c.config_id, c.base_lr, c.schedule, c.values, c.horizon, c.schedule_family, c.schedule_key,
           count(t.id)::int AS seeds,
           (count(*) FILTER (WHERE t.status = 'diverged'))::int AS diverged,
           (count(${v}) FILTER (WHERE t.status = 'completed'))::int AS n,
           avg(${v}) FILTER (WHERE t.status = 'completed') AS mean,
           stddev_samp(${v}) FILTER (WHERE t.status = 'completed') AS std,
           min(${v}) FILTER (WHERE t.status = 'completed') AS min,
           max(${v}) FILTER (WHERE t.status = 'completed') AS max
      FROM sweep_configs c JOIN trials t ON t.sweep_id = c.sweep_id AND t.config_id = c.config_id
     WHERE c.sweep_id = ${sweepId}::uuid
     GROUP BY c.sweep_id, c.config_id`;
}

/** The objective of each completed seed of some configurations. */
export async function seedValues(
  db: Db,
  sweepId: string,
  configIds: string[],
  metric: MetricName,
  aggregate: Aggregate,
  mode: 'min' | 'max',
) {
  if (!configIds.length) return [];
  const v = objectiveExpr(metric, aggregate, mode);
  return db.$queryRaw<{ config_id: string; seed: number; value: number }[]>`
    SELECT t.config_id, (t.config->>'seed')::int AS seed, ${v} AS value FROM trials t
     WHERE t.sweep_id = ${sweepId}::uuid AND t.config_id = ANY(${configIds}::text[]) AND t.status = 'completed' AND ${v} IS NOT NULL
     ORDER BY t.config_id, seed`;
}

/** Per configuration and test_* metric: count, mean and sample std over its completed seeds. */
export async function configTestStats(db: Db, sweepId: string) {
  return db.$queryRaw<{ config_id: string; metric: string; n: number; mean: number | null; std: number | null }[]>`
    SELECT t.config_id, m.key AS metric, count(*)::int AS n, avg((m.value ->> 'final')::float8) AS mean,
           stddev_samp((m.value ->> 'final')::float8) AS std
      FROM trials t CROSS JOIN LATERAL jsonb_each(t.summaries) m
     WHERE t.sweep_id = ${sweepId}::uuid AND t.status = 'completed' AND starts_with(m.key, 'test_') AND (m.value ->> 'final') IS NOT NULL
     GROUP BY t.config_id, m.key`;
}

/** One configuration's series of a metric: per step, the count, sum and sum of squares over seeds. */
export interface CurveSeries {
  config_id: string;
  metric: string;
  steps: number[];
  n: number[];
  sum: number[];
  sumsq: number[];
  /** Per step, the smallest and largest seed (null: stored before ranges existed). */
  lo: number[] | null;
  hi: number[] | null;
}

/**
 * The series of `metrics` for some configurations: a few dozen rows, arrays in step order. The
 * arrays travel as JSON text (JSON.parse is several times faster than decoding Postgres arrays).
 */
export async function curveSeries(
  db: Db,
  sweepId: string,
  configIds: string[],
  metrics: string[],
): Promise<CurveSeries[]> {
  const rows = await db.$queryRaw<
    {
      config_id: string;
      metric: string;
      steps: string;
      n: string;
      sum: string;
      sumsq: string;
      lo: string | null;
      hi: string | null;
    }[]
  >`
    SELECT config_id, metric, array_to_json(steps)::text AS steps, array_to_json(n)::text AS n,
           array_to_json(sum)::text AS sum, array_to_json(sumsq)::text AS sumsq,
           array_to_json(lo)::text AS lo, array_to_json(hi)::text AS hi
      FROM config_series
     WHERE sweep_id = ${sweepId}::uuid AND config_id = ANY(${configIds}::text[]) AND metric = ANY(${metrics}::text[])`;
  return rows.map((r) => ({
    config_id: r.config_id,
    metric: r.metric,
    steps: JSON.parse(r.steps) as number[],
    n: JSON.parse(r.n) as number[],
    sum: JSON.parse(r.sum) as number[],
    sumsq: JSON.parse(r.sumsq) as number[],
    lo: r.lo === null ? null : (JSON.parse(r.lo) as number[]),
    hi: r.hi === null ? null : (JSON.parse(r.hi) as number[]),
  }));
}

/** Some configurations of a sweep (the ones that exist among `configIds`). */
export async function sweepConfigsByIds(db: Db, sweepId: string, configIds: string[]) {
  return db.sweepConfig.findMany({ where: { sweepId, configId: { in: configIds } } });
}

/** A range test's series: per trial that completed or runs, its applied rates and training losses in step order. */
export async function rangeTestSeries(
  db: Db,
  sweepId: string,
): Promise<{ lr: number[]; loss: (number | null)[]; divergedAtStep: number | null }[]> {
  return db.$queryRaw<{ lr: number[]; loss: (number | null)[]; divergedAtStep: number | null }[]>`
    SELECT array_agg(u.lr ORDER BY u.step) AS lr, array_agg(u.train_loss ORDER BY u.step) AS loss, min(t.diverged_at_step) AS "divergedAtStep"
      FROM trials t JOIN update_metrics u ON u.trial_id = t.id
     WHERE t.sweep_id = ${sweepId}::uuid AND t.status IN ('completed', 'running')
     GROUP BY t.id`;
}

/** One trial of a transfer study: its configuration's axes, its seed, and its objective (completed only). */
export interface TransferTrialRow {
  config_id: string;
  base_lr: number;
  schedule: unknown;
  schedule_key: string;
  values: Record<string, unknown> | null;
  horizon: number | null;
  seed: number;
  status: string;
  value: number | null;
}

/**
 * Every trial of a sweep with its configuration's base LR, schedule, grid.config values and
 * horizon, its seed, status and objective value (null unless completed): what a transfer study
 * fits η* and its law to (diverged trials included: they censor an optimum).
 */
export async function transferTrials(
  db: Db,
  sweepId: string,
  metric: MetricName,
  aggregate: Aggregate,
  mode: 'min' | 'max',
): Promise<TransferTrialRow[]> {
  const v = objectiveExpr(metric, aggregate, mode);
  return db.$queryRaw<TransferTrialRow[]>`
    SELECT c.config_id, c.base_lr, c.schedule, c.schedule_key, c.values, c.horizon,
           (t.config->>'seed')::int AS seed, t.status::text AS status,
           CASE WHEN t.status = 'completed' THEN ${v} END AS value
      FROM sweep_configs c JOIN trials t ON t.sweep_id = c.sweep_id AND t.config_id = c.config_id
     WHERE c.sweep_id = ${sweepId}::uuid
     ORDER BY c.config_id, seed`;
}
