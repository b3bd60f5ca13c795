// Learning curves (GET /v1/sweeps/:id/curves): step-aligned mean and 95% CI across completed seeds
// per configuration, from the per-configuration aggregates (never the raw metric tables),
// downsampled with LTTB, with the applied-LR curve.
import type { MetricName } from '@lrsweep/contract';
import { curveSeries, sweepConfigsByIds } from '@lrsweep/db';
import type { ScheduleSpec } from '@lrsweep/schedules';
import { downsampleSeries, summaryFrom } from '@lrsweep/sweep';
import { ApiError } from '../errors';
import { labelOf, type ResultsDeps, rankingOf, sweepOf } from './results-ranking';

/**
 * Step-aligned mean and 95% CI across completed seeds per configuration (from the
 * per-configuration aggregates, never the raw metric tables), downsampled to at most
 * `points` points with LTTB, and the applied-LR curve.
 */
export async function curves(
  deps: ResultsDeps,
  sweepId: string,
  projectId: string,
  q: { metric: MetricName; configs?: string[]; points: number },
) {
  const { db } = deps;
  // Without a choice, the 20 best; with one, only those configurations are looked up.
  const sweep = await sweepOf(deps, sweepId, projectId);
  const ids =
    q.configs ?? (await rankingOf(deps, sweepId, projectId, {})).ranking.slice(0, 20).map((row) => row.configId);
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
}
