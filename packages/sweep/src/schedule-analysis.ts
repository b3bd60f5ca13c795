import type { ScheduleSpec } from '@lrsweep/schedules';
import { canonicalSchedule } from '@lrsweep/schedules';
import { canonicalJson, sha256 } from './canonical';
import type { RankingRow } from './ranking';
import { holm, pairedTest, seedsToResolve, summarize, type TestResult, welchTest } from './statistics';

/**
 * One schedule across base LRs: configurations with the same canonical schedule (and the same
 * values of a trainer's own axes, and the same horizon, when the sweep has them: v1 keys stay
 * the same). On a horizon axis each (schedule, horizon) is a line of its own: the verdict answers
 * per horizon.
 */
export const scheduleKeyOf = (s: ScheduleSpec, values?: Record<string, unknown>, horizon?: number) => {
  const base = values && Object.keys(values).length ? { schedule: canonicalSchedule(s), values } : canonicalSchedule(s);
  return sha256(canonicalJson(horizon === undefined ? base : { of: base, horizon })).slice(0, 16);
};

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
  /** Standard error of the mean, and [min, max] over the seeds: the other bands a chart can draw. */
  sem: number | null;
  range: [number, number] | null;
  diverged: number;
  /** Some seeds have not finished (or failed). */
  partial: boolean;
}

export interface ScheduleView {
  scheduleKey: string;
  schedule: ScheduleSpec;
  /** Its horizon, on a horizon axis (each schedule × horizon is a view of its own). */
  horizon?: number;
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
  /** 95% CI of `meanDiff` (paired when paired, else Welch's); null when neither test runs. */
  diffCi95: [number, number] | null;
  /** For a comparison with the winner: `p` adjusted by Holm over the k − 1 comparisons with it; else null. */
  pHolm: number | null;
  significant: boolean;
}

export interface VerdictWarning {
  code: 'best_lr_at_edge' | 'few_seeds' | 'partial' | 'diverged';
  message: string;
}

/** One schedule at its own best base LR, against the winner: the verdict table's row. */
export interface VerdictRow {
  scheduleKey: string;
  schedule: ScheduleSpec;
  horizon?: number;
  configId: string;
  baseLr: number;
  n: number;
  mean: number;
  ci95: [number, number] | null;
  /** mean − the winner's mean (0 for the winner), the CI of that difference, and its p (raw and Holm-adjusted). */
  delta: number;
  diffCi95: [number, number] | null;
  p: number | null;
  pHolm: number | null;
  test: 'paired' | 'welch' | null;
  /** Not the winner, and not distinguishable from it (Holm-adjusted p ≥ α, or no test possible). */
  indistinguishable: boolean;
  basin: ScheduleView['basin'];
  warnings: VerdictWarning[];
}

export interface ScheduleAnalysis {
  schedules: ScheduleView[];
  /** The schedule whose best configuration ranks first. */
  winner: string | null;
  comparisons: Comparison[];
  /** The verdict table: one row per schedule with a result, at its own best LR, the winner first. */
  rows: VerdictRow[];
  /**
   * Seeds per configuration that would resolve the top two at α and power 0.8, from the spread
   * seen (paired when they share seeds); null without two schedules or a spread.
   */
  seedsToResolve: number | null;
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
      .map((r) => ({
        configId: r.configId,
        baseLr: r.config.baseLr,
        n: r.n,
        mean: r.mean,
        ci95: r.ci95,
        sem: r.sem,
        range: r.range,
        diverged: r.diverged,
        partial: r.partial,
      }));
    const horizon = rows[0]!.config.horizon;
    return {
      scheduleKey,
      schedule: rows[0]!.config.schedule,
      ...(horizon !== undefined ? { horizon } : {}),
      best: bestRow
        ? {
            configId: bestRow.configId,
            baseLr: bestRow.config.baseLr,
            mean: bestRow.mean!,
            ci95: bestRow.ci95,
            n: bestRow.n,
          }
        : null,
      sensitivity,
      basin: bestRow ? basinOf(sensitivity, bestRow.configId, opts.mode, opts.tolerance) : null,
    };
  });
  // Schedules in the order of their best configuration in the ranking.
  const order = new Map(ranking.map((r, i) => [r.configId, i]));
  views.sort(
    (a, b) => (a.best ? order.get(a.best.configId)! : Infinity) - (b.best ? order.get(b.best.configId)! : Infinity),
  );
  const ranked = views.filter((v) => v.best);
  const comparisons: Comparison[] = [];
  for (let i = 0; i < ranked.length; i++) {
    for (let j = i + 1; j < ranked.length; j++) {
      comparisons.push(compare(ranked[i]!, ranked[j]!, seedValues, opts.alpha));
    }
  }
  // Holm over the comparisons with the winner (the first k − 1 of the list).
  const withWinner = comparisons.slice(0, Math.max(0, ranked.length - 1));
  holm(withWinner.map((c) => c.p)).forEach((p, i) => (withWinner[i]!.pHolm = p));
  for (const c of withWinner) c.significant = c.pHolm !== null && c.pHolm < opts.alpha;
  const needed = resolveEstimate(ranked, seedValues, opts.alpha);
  return {
    schedules: views,
    winner: ranked[0]?.scheduleKey ?? null,
    comparisons,
    rows: verdictRows(ranked, withWinner, needed, opts.alpha),
    seedsToResolve: needed,
    alpha: opts.alpha,
    tolerance: opts.tolerance,
    verdict: verdictOf(ranked, comparisons, opts),
  };
}

/** Seeds that would resolve the winner against the runner-up, from the spread their seeds show. */
function resolveEstimate(
  ranked: ScheduleView[],
  seedValues: (configId: string) => SeedValue[],
  alpha: number,
): number | null {
  const [w, r] = ranked;
  if (!w || !r) return null;
  const va = seedValues(w.best!.configId);
  const vb = seedValues(r.best!.configId);
  const bySeed = new Map(vb.map((v) => [v.seed, v.value]));
  const shared = va.filter((v) => bySeed.has(v.seed));
  if (shared.length >= 2) {
    const d = summarize(shared.map((v) => v.value - bySeed.get(v.seed)!));
    return seedsToResolve(d.mean!, d.std!, { alpha, paired: true });
  }
  const sa = summarize(va.map((v) => v.value));
  const sb = summarize(vb.map((v) => v.value));
  if (sa.std === null || sb.std === null) return null;
  return seedsToResolve(sa.mean! - sb.mean!, Math.sqrt((sa.std ** 2 + sb.std ** 2) / 2), { alpha, paired: false });
}

function verdictRows(
  ranked: ScheduleView[],
  withWinner: Comparison[],
  needed: number | null,
  alpha: number,
): VerdictRow[] {
  return ranked.map((v, i) => {
    const c = i === 0 ? null : withWinner[i - 1]!;
    const best = v.best!;
    const row = v.sensitivity.find((p) => p.configId === best.configId)!;
    const warnings: VerdictWarning[] = [];
    const lrs = v.sensitivity.map((p) => p.baseLr);
    if (lrs.length > 1 && (best.baseLr === lrs[0] || best.baseLr === lrs.at(-1))) {
      warnings.push({
        code: 'best_lr_at_edge',
        message: `the best base LR ${best.baseLr} is the ${best.baseLr === lrs[0] ? 'smallest' : 'largest'} in the grid: the optimum may lie beyond it`,
      });
    }
    if (best.n < 3) {
      warnings.push({
        code: 'few_seeds',
        message: `${best.n} seed${best.n === 1 ? '' : 's'}: too few for a reliable interval${needed ? `; about ${needed} per configuration would resolve the top two (α ${alpha}, power 0.8)` : ''}`,
      });
    }
    const partial = v.sensitivity.filter((p) => p.partial);
    if (partial.length)
      warnings.push({
        code: 'partial',
        message: `${partial.length} of its configurations have seeds still running or failed: the row may change`,
      });
    const diverged = v.sensitivity.filter((p) => p.diverged > 0);
    if (diverged.length)
      warnings.push({ code: 'diverged', message: `diverged at base LR ${diverged.map((p) => p.baseLr).join(', ')}` });
    return {
      scheduleKey: v.scheduleKey,
      schedule: v.schedule,
      ...(v.horizon !== undefined ? { horizon: v.horizon } : {}),
      configId: best.configId,
      baseLr: best.baseLr,
      n: row.n,
      mean: best.mean,
      ci95: best.ci95,
      delta: c ? -c.meanDiff : 0,
      diffCi95: c?.diffCi95 ? [-c.diffCi95[1], -c.diffCi95[0]] : null,
      p: c?.p ?? null,
      pHolm: c?.pHolm ?? null,
      test: c ? (c.paired ? 'paired' : c.welch ? 'welch' : null) : null,
      indistinguishable: c !== null && !(c.pHolm !== null && c.pHolm < alpha),
      basin: v.basin,
      warnings,
    };
  });
}

function basinOf(points: SensitivityPoint[], bestId: string, mode: 'min' | 'max', tol: number): ScheduleView['basin'] {
  const i = points.findIndex((p) => p.configId === bestId);
  const best = points[i]!.mean!;
  const good = (p: SensitivityPoint | undefined) =>
    p !== undefined &&
    p.mean !== null &&
    p.diverged === 0 &&
    (mode === 'min' ? p.mean <= best + tol * Math.abs(best) : p.mean >= best - tol * Math.abs(best));
  let lo = i;
  let hi = i;
  while (good(points[lo - 1])) lo--;
  while (good(points[hi + 1])) hi++;
  const a = points[lo]!.baseLr;
  const b = points[hi]!.baseLr;
  return { lo: a, hi: b, widthDecades: Math.log10(b / a), points: hi - lo + 1 };
}

function compare(
  a: ScheduleView,
  b: ScheduleView,
  seedValues: (configId: string) => SeedValue[],
  alpha: number,
): Comparison {
  const va = seedValues(a.best!.configId);
  const vb = seedValues(b.best!.configId);
  const welch = welchTest(
    va.map((v) => v.value),
    vb.map((v) => v.value),
  );
  const bySeed = new Map(vb.map((v) => [v.seed, v.value]));
  const shared = va.filter((v) => bySeed.has(v.seed));
  const pt =
    shared.length >= 2
      ? pairedTest(
          shared.map((v) => v.value),
          shared.map((v) => bySeed.get(v.seed)!),
        )
      : null;
  const paired = pt ? { ...pt, pairs: shared.length } : null;
  const p = paired?.p ?? welch?.p ?? null;
  const diffCi95 = paired?.diffCi95 ?? welch?.diffCi95 ?? null;
  return {
    a: a.scheduleKey,
    b: b.scheduleKey,
    meanDiff: a.best!.mean - b.best!.mean,
    welch,
    paired,
    p,
    diffCi95,
    pHolm: null,
    significant: p !== null && p < alpha,
  };
}

function verdictOf(
  ranked: ScheduleView[],
  comparisons: Comparison[],
  opts: { alpha: number; describe: (s: ScheduleSpec) => string },
): string {
  const [w, ...rest] = ranked;
  if (!w) return 'No schedule has a result yet.';
  const name = (v: ScheduleView) =>
    `${opts.describe(v.schedule)}${v.horizon !== undefined ? ` over ${v.horizon} updates` : ''} (base LR ${v.best!.baseLr})`;
  if (!rest.length) return `${name(w)} is the only schedule with a result.`;
  const parts = rest.map((o) => {
    const c = comparisons.find((x) => x.a === w.scheduleKey && x.b === o.scheduleKey)!;
    const test = c.paired
      ? `paired t-test over ${c.paired.pairs} seeds`
      : c.welch
        ? "Welch's t-test"
        : 'too few seeds to test';
    if (c.p === null) return `ahead of ${name(o)} (${test})`;
    const holmNote = rest.length > 1 ? `, Holm-adjusted p = ${c.pHolm!.toPrecision(2)}` : '';
    return `${c.significant ? 'significantly better than' : 'not significantly different from'} ${name(o)} (p = ${c.p.toPrecision(2)}${holmNote}, ${test})`;
  });
  return `Best: ${name(w)}; ${parts.join('; ')}. Significance at α = ${opts.alpha}${rest.length > 1 ? `, Holm-adjusted over the ${rest.length} comparisons with the best` : ''}.`;
}
