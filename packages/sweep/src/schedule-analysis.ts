import type { ScheduleSpec } from '@lrsweep/schedules';
import { canonicalSchedule } from '@lrsweep/schedules';
import { canonicalJson, sha256 } from './canonical';
import type { RankingRow } from './ranking';
import { pairedTest, type TestResult, welchTest } from './statistics';

/**
 * One schedule across base LRs: configurations with the same canonical schedule (and the same
 * values of a trainer's own axes, when the sweep has them: v1 keys stay the same).
 */
export const scheduleKeyOf = (s: ScheduleSpec, values?: Record<string, unknown>) =>
  sha256(canonicalJson(values && Object.keys(values).length ? { schedule: canonicalSchedule(s), values } : canonicalSchedule(s))).slice(0, 16);

export interface SeedValue {
  seed: number;
  value: number;
}

export interface SensitivityPoint {
  configId: string;
  baseLr: number;
  n: number;
  mean: number | null;
  ci95: [number, number] | null;
  diverged: number;
}

export interface ScheduleView {
  scheduleKey: string;
  schedule: ScheduleSpec;
  /** Its best base LR (the best-ranked of its configurations), or null if none has a result. */
  best: { configId: string; baseLr: number; mean: number; ci95: [number, number] | null; n: number } | null;
  /** Objective against base LR, ascending LR. */
  sensitivity: SensitivityPoint[];
  /** The contiguous base LRs around the best whose mean is within `tolerance` (relative) of it. */
  basin: { lo: number; hi: number; widthDecades: number; points: number } | null;
}

export interface Comparison {
  a: string;
  b: string;
  /** mean(a) − mean(b) at each one's best base LR. */
  meanDiff: number;
  welch: TestResult | null;
  /** Over the seeds both ran (same seed = same initialisation and data order); null below 2. */
  paired: (TestResult & { pairs: number }) | null;
  /** The paired test when there is one, else Welch's. */
  p: number | null;
  significant: boolean;
}

export interface ScheduleAnalysis {
  schedules: ScheduleView[];
  /** The schedule whose best configuration ranks first. */
  winner: string | null;
  comparisons: Comparison[];
  alpha: number;
  tolerance: number;
  verdict: string;
}

/**
 * Per schedule: its best base LR and score, its LR-sensitivity curve, the width of its good basin;
 * and every pair of schedules compared at their own best LR. `ranking` is the sweep's ranking
 * (best first); `seedValues` gives a configuration's objective per completed seed.
 */
export function analyzeSchedules(
  ranking: readonly (RankingRow & { scheduleKey: string })[],
  seedValues: (configId: string) => SeedValue[],
  opts: { mode: 'min' | 'max'; tolerance: number; alpha: number; describe: (s: ScheduleSpec) => string },
): ScheduleAnalysis {
  const groups = new Map<string, (RankingRow & { scheduleKey: string })[]>();
  for (const r of ranking) groups.set(r.scheduleKey, [...(groups.get(r.scheduleKey) ?? []), r]);
  const views: ScheduleView[] = [...groups.entries()].map(([scheduleKey, rows]) => {
    const bestRow = rows.find((r) => r.mean !== null && r.diverged === 0) ?? rows.find((r) => r.mean !== null) ?? null;
    const sensitivity = [...rows]
      .sort((a, b) => a.config.baseLr - b.config.baseLr)
      .map((r) => ({ configId: r.configId, baseLr: r.config.baseLr, n: r.n, mean: r.mean, ci95: r.ci95, diverged: r.diverged }));
    return {
      scheduleKey,
      schedule: rows[0]!.config.schedule,
      best: bestRow ? { configId: bestRow.configId, baseLr: bestRow.config.baseLr, mean: bestRow.mean!, ci95: bestRow.ci95, n: bestRow.n } : null,
      sensitivity,
      basin: bestRow ? basinOf(sensitivity, bestRow.configId, opts.mode, opts.tolerance) : null,
    };
  });
  // Schedules in the order of their best configuration in the ranking.
  const order = new Map(ranking.map((r, i) => [r.configId, i]));
  views.sort((a, b) => (a.best ? order.get(a.best.configId)! : Infinity) - (b.best ? order.get(b.best.configId)! : Infinity));
  const ranked = views.filter((v) => v.best);
  const comparisons: Comparison[] = [];
  for (let i = 0; i < ranked.length; i++) {
    for (let j = i + 1; j < ranked.length; j++) {
      comparisons.push(compare(ranked[i]!, ranked[j]!, seedValues, opts.alpha));
    }
  }
  return {
    schedules: views,
    winner: ranked[0]?.scheduleKey ?? null,
    comparisons,
    alpha: opts.alpha,
    tolerance: opts.tolerance,
    verdict: verdictOf(ranked, comparisons, opts),
  };
}

function basinOf(points: SensitivityPoint[], bestId: string, mode: 'min' | 'max', tol: number): ScheduleView['basin'] {
  const i = points.findIndex((p) => p.configId === bestId);
  const best = points[i]!.mean!;
  const good = (p: SensitivityPoint | undefined) =>
    p !== undefined && p.mean !== null && p.diverged === 0 && (mode === 'min' ? p.mean <= best + tol * Math.abs(best) : p.mean >= best - tol * Math.abs(best));
  let lo = i;
  let hi = i;
  while (good(points[lo - 1])) lo--;
  while (good(points[hi + 1])) hi++;
  const a = points[lo]!.baseLr;
  const b = points[hi]!.baseLr;
  return { lo: a, hi: b, widthDecades: Math.log10(b / a), points: hi - lo + 1 };
}

function compare(a: ScheduleView, b: ScheduleView, seedValues: (configId: string) => SeedValue[], alpha: number): Comparison {
  const va = seedValues(a.best!.configId);
  const vb = seedValues(b.best!.configId);
  const welch = welchTest(va.map((v) => v.value), vb.map((v) => v.value));
  const bySeed = new Map(vb.map((v) => [v.seed, v.value]));
  const shared = va.filter((v) => bySeed.has(v.seed));
  const pt = shared.length >= 2 ? pairedTest(shared.map((v) => v.value), shared.map((v) => bySeed.get(v.seed)!)) : null;
  const paired = pt ? { ...pt, pairs: shared.length } : null;
  const p = paired?.p ?? welch?.p ?? null;
  return { a: a.scheduleKey, b: b.scheduleKey, meanDiff: a.best!.mean - b.best!.mean, welch, paired, p, significant: p !== null && p < alpha };
}

function verdictOf(ranked: ScheduleView[], comparisons: Comparison[], opts: { alpha: number; describe: (s: ScheduleSpec) => string }): string {
  const [w, ...rest] = ranked;
  if (!w) return 'No schedule has a result yet.';
  const name = (v: ScheduleView) => `${opts.describe(v.schedule)} (base LR ${v.best!.baseLr})`;
  if (!rest.length) return `${name(w)} is the only schedule with a result.`;
  const parts = rest.map((o) => {
    const c = comparisons.find((x) => x.a === w.scheduleKey && x.b === o.scheduleKey)!;
    const test = c.paired ? `paired t-test over ${c.paired.pairs} seeds` : c.welch ? "Welch's t-test" : 'too few seeds to test';
    if (c.p === null) return `ahead of ${name(o)} (${test})`;
    return `${c.significant ? 'significantly better than' : 'not significantly different from'} ${name(o)} (p = ${c.p.toPrecision(2)}, ${test})`;
  });
  return `Best: ${name(w)}; ${parts.join('; ')}. Significance at α = ${opts.alpha}.`;
}
