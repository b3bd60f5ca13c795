// The verdict (GET /v1/sweeps/:id/schedules): per schedule its best base LR, LR sensitivity and
// basin, pairwise tests at each best LR, and on a horizon axis each schedule against the horizon.
import { seedValues } from '@lrsweep/db';
import { describeSchedule } from '@lrsweep/schedules';
import { analyzeSchedules, type SeedValue } from '@lrsweep/sweep';
import { labelOf, type ResultQuery, type ResultsDeps, rankingOf } from './results-ranking';

/** Per schedule: best LR, LR sensitivity, basin width, and pairwise tests at each best LR. */
export async function verdict(
  deps: ResultsDeps,
  sweepId: string,
  projectId: string,
  q: ResultQuery & { tolerance: number; alpha: number },
) {
  const { db } = deps;
  const r = await rankingOf(deps, sweepId, projectId, q);
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
}
