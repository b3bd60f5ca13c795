// A sweep's ranking of configurations across seeds, from the per-configuration summaries: the
// answer of GET /v1/sweeps/:id/results, and what the verdict and the curves start from.
import { type Aggregate, type MetricName, modeUnder, type Objective, sweepEnded } from '@lrsweep/contract';
import { configStats, configTestStats, type Db, getSweep, prunedTrials } from '@lrsweep/db';
import { describeSchedule, type ScheduleSpec } from '@lrsweep/schedules';
import { type RankBy, rankStats, summaryFrom } from '@lrsweep/sweep';
import { notFound } from '../errors';

export interface ResultsDeps {
  db: Db;
}

export interface ResultQuery {
  metric?: MetricName;
  aggregate?: Aggregate;
  rankBy?: RankBy;
}

/** A schedule's name, with its horizon on a horizon axis ("cosine · T=500"). */
export const labelOf = (v: { schedule: ScheduleSpec; horizon?: number; values?: Record<string, unknown> }) =>
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

export async function sweepOf({ db }: ResultsDeps, sweepId: string, projectId: string) {
  const s = await getSweep(db, sweepId, projectId);
  if (!s) throw notFound('sweep', sweepId);
  return s;
}

/** The ranking for an objective (the sweep's, unless the query picks another), from summaries. */
export async function rankingOf(deps: ResultsDeps, sweepId: string, projectId: string, q: ResultQuery) {
  const { db } = deps;
  const sweep = await sweepOf(deps, sweepId, projectId);
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
  const familyOf = new Map(rows.flatMap((r) => (r.schedule_family ? [[r.config_id, r.schedule_family] as const] : [])));
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
