import {
  type Aggregate,
  type MetricName,
  modeUnder,
  type Objective,
  type RangeTestView,
  sweepEnded,
} from '@lrsweep/contract';
import {
  configStats,
  configTestStats,
  curveSeries,
  type Db,
  getSweep,
  prunedTrials,
  rangeTestSeries,
  seedValues,
  sweepConfigsByIds,
} from '@lrsweep/db';
import { describeSchedule, type ScheduleSpec } from '@lrsweep/schedules';
import {
  analyzeSchedules,
  downsampleSeries,
  rangeTestAnswer,
  type RankBy,
  rankStats,
  type SeedValue,
  summaryFrom,
} from '@lrsweep/sweep';
import { ApiError, notFound } from '../errors';

export interface ResultQuery {
  metric?: MetricName;
  aggregate?: Aggregate;
  rankBy?: RankBy;
}

/** A schedule's name, with its horizon on a horizon axis ("cosine · T=500"). */
const labelOf = (v: { schedule: ScheduleSpec; horizon?: number; values?: Record<string, unknown> }) =>
  `${describeSchedule(v.schedule)}${v.horizon !== undefined ? ` · T=${v.horizon}` : ''}${Object.entries(v.values ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, x]) => ` · ${k}=${String(x)}`)
    .join('')}`;

interface PrunedConfig {
  rung: number;
  budget: number | null;
  seeds: number;
  estimate: number | null;
}

/** Pruned trials by configuration: the rung its seeds stopped at, and their mean estimate there. */
function prunedByConfig(trials: Awaited<ReturnType<typeof prunedTrials>>): Map<string, PrunedConfig> {
  const out = new Map<string, PrunedConfig & { sum: number | null }>();
  for (const t of trials) {
    const c = out.get(t.configId) ?? { rung: t.rung, budget: t.step, seeds: 0, estimate: null, sum: 0 };
    c.seeds += 1;
    c.sum = c.sum === null || t.value === null ? null : c.sum + t.value;
    out.set(t.configId, c);
  }
  return new Map([...out].map(([id, { sum, ...c }]) => [id, { ...c, estimate: sum === null ? null : sum / c.seeds }]));
}

export function createResultsService({ db }: { db: Db }) {
  const sweepOf = async (sweepId: string, projectId: string) => {
    const s = await getSweep(db, sweepId, projectId);
    if (!s) throw notFound('sweep', sweepId);
    return s;
  };

  /** The ranking for an objective (the sweep's, unless the query picks another), from summaries. */
  async function ranking(sweepId: string, projectId: string, q: ResultQuery) {
    const sweep = await sweepOf(sweepId, projectId);
    const own = sweep.objective as Objective;
    const metric = q.metric ?? own.metric;
    const objective = { metric, mode: modeUnder(metric, own), aggregate: q.aggregate ?? own.aggregate };
    const [rows, tests] = await Promise.all([
      configStats(db, sweepId, objective.metric, objective.aggregate, objective.mode),
      configTestStats(db, sweepId),
    ]);
    const keyOf = new Map(rows.map((r) => [r.config_id, r.schedule_key]));
    const testOf = new Map<string, Record<string, { n: number; mean: number | null; ci95: [number, number] | null }>>();
    for (const t of tests) {
      const { n, mean, ci95 } = summaryFrom(t.n, t.mean, t.std);
      testOf.set(t.config_id, { ...testOf.get(t.config_id), [t.metric]: { n, mean, ci95 } });
    }
    const familyOf = new Map(
      rows.flatMap((r) => (r.schedule_family ? [[r.config_id, r.schedule_family] as const] : [])),
    );
    // An ASHA search ranks the configurations that reached the horizon (or may still): those it stopped at a rung are listed apart.
    const asha = (sweep.spec as { search?: { kind: string } }).search?.kind === 'asha';
    const pruned = asha ? prunedByConfig(await prunedTrials(db, sweepId)) : new Map<string, PrunedConfig>();
    const viewOf = (r: (typeof rows)[number]) => ({
      baseLr: r.base_lr,
      schedule: r.schedule as ScheduleSpec,
      ...(r.values ? { values: r.values as Record<string, unknown> } : {}),
      ...(r.horizon !== null ? { horizon: r.horizon } : {}),
    });
    const ranked = rankStats(
      rows
        .filter((r) => !pruned.has(r.config_id))
        .map((r) => ({
          configId: r.config_id,
          config: viewOf(r),
          n: r.n,
          mean: r.mean,
          std: r.std,
          min: r.min,
          max: r.max,
          diverged: r.diverged,
          seeds: r.seeds,
        })),
      objective.mode,
      q.rankBy ?? 'mean',
    ).map((r) => ({ ...r, scheduleKey: keyOf.get(r.configId)!, test: testOf.get(r.configId) ?? {} }));
    const provisional = !sweepEnded(sweep.status);
    const prunedRows = rows.flatMap((r) => {
      const p = pruned.get(r.config_id);
      return p ? [{ configId: r.config_id, config: viewOf(r), scheduleKey: r.schedule_key, ...p }] : [];
    });
    return {
      objective,
      rankBy: q.rankBy ?? 'mean',
      provisional,
      selectedOn: sweep.selectedOn,
      ranking: ranked,
      ...(asha ? { pruned: prunedRows } : {}),
      familyOf,
    };
  }

  return {
    /** The ranking as GET /results answers it. */
    async ranking(sweepId: string, projectId: string, q: ResultQuery) {
      const { familyOf: _families, ...answer } = await ranking(sweepId, projectId, q);
      return answer;
    },

    /** An LR range test's curve (seeds averaged, smoothed, cut at divergence) and the base LRs it suggests. */
    async rangeTest(sweepId: string, projectId: string): Promise<RangeTestView> {
      const sweep = await sweepOf(sweepId, projectId);
      const spec = sweep.spec as { search?: { kind: string } };
      if (spec.search?.kind !== 'range_test')
        throw new ApiError('NOT_A_RANGE_TEST', 'this sweep is a grid search; its answer is GET /v1/sweeps/:id/results');
      const a = rangeTestAnswer(await rangeTestSeries(db, sweepId));
      const provisional = !sweepEnded(sweep.status);
      if (!a)
        return {
          id: sweepId,
          provisional,
          seeds: 0,
          points: [],
          suggested: { baseLr: [] },
          steepestLr: null,
          minLossLr: null,
          divergedAtLr: null,
        };
      return { id: sweepId, provisional, ...a };
    },

    /** Per schedule: best LR, LR sensitivity, basin width, and pairwise tests at each best LR. */
    async schedules(sweepId: string, projectId: string, q: ResultQuery & { tolerance: number; alpha: number }) {
      const r = await ranking(sweepId, projectId, q);
      const bestIds = new Set<string>();
      const seen = new Set<string>();
      for (const row of r.ranking) {
        if (row.mean !== null && !seen.has(row.scheduleKey)) {
          seen.add(row.scheduleKey);
          bestIds.add(row.configId);
        }
      }
      const values = await seedValues(
        db,
        sweepId,
        [...bestIds],
        r.objective.metric,
        r.objective.aggregate,
        r.objective.mode,
      );
      const byConfig = new Map<string, SeedValue[]>();
      for (const v of values)
        byConfig.set(v.config_id, [...(byConfig.get(v.config_id) ?? []), { seed: v.seed, value: v.value }]);
      const valuesOf = new Map(r.ranking.map((row) => [row.scheduleKey, row.config.values]));
      const analysis = analyzeSchedules(r.ranking, (id) => byConfig.get(id) ?? [], {
        mode: r.objective.mode,
        tolerance: q.tolerance,
        alpha: q.alpha,
        describe: describeSchedule,
      });
      // On a horizon axis: each schedule (as the grid gave it) at its best LR, against the horizon.
      const families = new Map<string, typeof analysis.schedules>();
      for (const s of analysis.schedules) {
        const family = s.best
          ? r.familyOf.get(s.best.configId)
          : s.sensitivity[0]
            ? r.familyOf.get(s.sensitivity[0].configId)
            : undefined;
        if (family && s.horizon !== undefined) families.set(family, [...(families.get(family) ?? []), s]);
      }
      const horizons = [...families.entries()].map(([family, members]) => {
        const sorted = [...members].sort((a, b) => a.horizon! - b.horizon!);
        return {
          family,
          label: describeSchedule(sorted[0]!.schedule),
          points: sorted.map((m) => ({
            horizon: m.horizon!,
            scheduleKey: m.scheduleKey,
            baseLr: m.best?.baseLr ?? null,
            mean: m.best?.mean ?? null,
            ci95: m.best?.ci95 ?? null,
            n: m.best?.n ?? 0,
          })),
        };
      });
      return {
        objective: r.objective,
        provisional: r.provisional,
        selectedOn: r.selectedOn,
        ...analysis,
        horizons,
        // A trainer's own axes (grid.config) tell apart schedules that describe the same.
        schedules: analysis.schedules.map((s) => ({
          ...s,
          label: labelOf({ ...s, values: valuesOf.get(s.scheduleKey) }),
        })),
        rows: analysis.rows.map((row) => ({
          ...row,
          label: labelOf({ ...row, values: valuesOf.get(row.scheduleKey) }),
        })),
      };
    },

    /**
     * Step-aligned mean and 95% CI across completed seeds per configuration (from the
     * per-configuration aggregates, never the raw metric tables), downsampled to at most
     * `points` points with LTTB, and the applied-LR curve.
     */
    async curves(sweepId: string, projectId: string, q: { metric: MetricName; configs?: string[]; points: number }) {
      // Without a choice, the 20 best; with one, only those configurations are looked up.
      const sweep = await sweepOf(sweepId, projectId);
      const ids = q.configs ?? (await ranking(sweepId, projectId, {})).ranking.slice(0, 20).map((row) => row.configId);
      const known = new Map(
        (await sweepConfigsByIds(db, sweepId, ids)).map((c) => [
          c.configId,
          {
            config: {
              baseLr: c.baseLr,
              schedule: c.schedule as ScheduleSpec,
              ...(c.horizon !== null ? { horizon: c.horizon } : {}),
            },
          },
        ]),
      );
      const unknown = ids.filter((id) => !known.has(id));
      if (unknown.length) {
        throw new ApiError('REQUEST_INVALID', `configs: not in this sweep: ${unknown.join(', ')}`, [
          { path: 'configs', message: `not in this sweep: ${unknown.join(', ')}` },
        ]);
      }
      const rows = await curveSeries(db, sweepId, ids, [q.metric, 'lr']);
      const series = new Map(rows.map((r) => [`${r.config_id}\u0000${r.metric}`, r]));
      const curveOf = (configId: string, metric: string) => {
        const c = series.get(`${configId}\u0000${metric}`);
        const steps = c?.steps ?? [];
        const mean = steps.map((_, i) => c!.sum[i]! / c!.n[i]!);
        // Downsample on the mean (LTTB keeps points of the series), then compute CIs for those.
        const kept = new Set(downsampleSeries(steps, mean, q.points).x);
        const out = {
          steps: [] as number[],
          n: [] as number[],
          mean: [] as number[],
          ci95Lo: [] as (number | null)[],
          ci95Hi: [] as (number | null)[],
          sem: [] as (number | null)[],
          min: [] as (number | null)[],
          max: [] as (number | null)[],
        };
        steps.forEach((step, i) => {
          if (!kept.has(step)) return;
          const n = c!.n[i]!;
          const std = n > 1 ? Math.sqrt(Math.max(0, (c!.sumsq[i]! - (c!.sum[i]! * c!.sum[i]!) / n) / (n - 1))) : null;
          const s = summaryFrom(n, mean[i]!, std);
          out.steps.push(step);
          out.n.push(n);
          out.mean.push(mean[i]!);
          out.ci95Lo.push(s.ci95?.[0] ?? null);
          out.ci95Hi.push(s.ci95?.[1] ?? null);
          out.sem.push(s.sem);
          out.min.push(c!.lo?.[i] ?? null);
          out.max.push(c!.hi?.[i] ?? null);
        });
        return out;
      };
      return {
        metric: q.metric,
        points: q.points,
        selectedOn: sweep.selectedOn,
        curves: ids.map((id) => {
          const row = known.get(id)!;
          const lr = curveOf(id, 'lr');
          return {
            configId: id,
            baseLr: row.config.baseLr,
            schedule: row.config.schedule,
            label: `${labelOf(row.config)} @ ${row.config.baseLr}`,
            ...curveOf(id, q.metric),
            lr: { steps: lr.steps, mean: lr.mean },
          };
        }),
      };
    },
  };
}
export type ResultsService = ReturnType<typeof createResultsService>;
