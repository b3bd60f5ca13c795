import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

export interface Summary {
  n: number;
  mean: number | null;
  /** Sample standard deviation (n − 1); null below 2 values. */
  std: number | null;
  /** Standard error of the mean; null below 2 values. */
  sem: number | null;
  /** 95% confidence interval of the mean, Student t with n − 1 degrees of freedom. */
  ci95: [number, number] | null;
}

/** The 97.5% quantile of Student's t, per degrees of freedom (an inverse incomplete beta: cached). */
const t975 = new Map<number, number>();
const tCritical = (df: number) => {
  let q = t975.get(df);
  if (q === undefined) {
    q = tQuantile(0.975, df);
    t975.set(df, q);
  }
  return q;
};

/** Mean, spread and 95% CI from a count, a mean and a sample standard deviation. */
export function summaryFrom(n: number, mean: number | null, std: number | null): Summary {
  if (n === 0 || mean === null) return { n, mean: null, std: null, sem: null, ci95: null };
  if (n < 2 || std === null || !Number.isFinite(std)) return { n, mean, std: null, sem: null, ci95: null };
  const sem = std / Math.sqrt(n);
  const half = tCritical(n - 1) * sem;
  return { n, mean, std, sem, ci95: [mean - half, mean + half] };
}

export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return summaryFrom(0, null, null);
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return summaryFrom(n, mean, null);
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return summaryFrom(n, mean, Math.sqrt(variance));
}

export interface TestResult {
  /** The t statistic of mean(a) − mean(b). */
  t: number;
  df: number;
  /** Two-sided p-value. */
  p: number;
  meanDiff: number;
  /** 95% confidence interval of mean(a) − mean(b) (of the paired differences' mean, when paired). */
  diffCi95: [number, number];
}

const twoSided = (t: number, df: number) => (Number.isFinite(t) ? 2 * (1 - tCdf(Math.abs(t), df)) : 0);

/**
 * Welch's unequal-variance t-test of two independent samples (two-sided), with the
 * Welch–Satterthwaite degrees of freedom. Null below two values in either group. With no spread
 * in either group, a nonzero difference is certain (p = 0) and a zero one impossible to tell (p = 1).
 */
export function welchTest(a: readonly number[], b: readonly number[]): TestResult | null {
  if (a.length < 2 || b.length < 2) return null;
  const sa = summarize(a);
  const sb = summarize(b);
  const va = sa.std! ** 2 / a.length;
  const vb = sb.std! ** 2 / b.length;
  const meanDiff = sa.mean! - sb.mean!;
  if (va + vb === 0)
    return {
      t: meanDiff === 0 ? 0 : Math.sign(meanDiff) * Infinity,
      df: a.length + b.length - 2,
      p: meanDiff === 0 ? 1 : 0,
      meanDiff,
      diffCi95: [meanDiff, meanDiff],
    };
  const se = Math.sqrt(va + vb);
  const t = meanDiff / se;
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  const half = tQuantile(0.975, df) * se;
  return { t, df, p: twoSided(t, df), meanDiff, diffCi95: [meanDiff - half, meanDiff + half] };
}

/** The paired t-test of a − b over matched pairs (two-sided); null below two pairs. */
export function pairedTest(a: readonly number[], b: readonly number[]): TestResult | null {
  if (a.length !== b.length) throw new Error('paired samples differ in length');
  if (a.length < 2) return null;
  const d = summarize(a.map((x, i) => x - b[i]!));
  const meanDiff = d.mean!;
  const df = a.length - 1;
  if (d.std === 0)
    return {
      t: meanDiff === 0 ? 0 : Math.sign(meanDiff) * Infinity,
      df,
      p: meanDiff === 0 ? 1 : 0,
      meanDiff,
      diffCi95: [meanDiff, meanDiff],
    };
  const t = meanDiff / d.sem!;
  return { t, df, p: twoSided(t, df), meanDiff, diffCi95: d.ci95! };
}

/**
 * Holm's step-down adjustment of p-values for a family of comparisons (null ones are not tested
 * and not counted): the i-th smallest of m becomes max over j ≤ i of min(1, (m − j + 1)·p(j)).
 */
export function holm(ps: readonly (number | null)[]): (number | null)[] {
  const tested = ps
    .map((p, i) => ({ p, i }))
    .filter((x): x is { p: number; i: number } => x.p !== null)
    .sort((a, b) => a.p - b.p);
  const m = tested.length;
  const out: (number | null)[] = ps.map(() => null);
  let running = 0;
  tested.forEach(({ p, i }, k) => {
    running = Math.max(running, Math.min(1, (m - k) * p));
    out[i] = running;
  });
  return out;
}

/**
 * Seeds per configuration a two-sided t-test at `alpha` needs to detect a difference `delta` with
 * `power`, given the spread `sd` (of paired differences, or of each group for two independent
 * groups): the normal-approximation count refined with t quantiles at its own degrees of freedom
 * (n = ((t₁₋α/₂ + t_power) · sd / δ)², times 2 for independent groups). At least 2; null when the
 * difference is 0 or the spread unknown.
 */
export function seedsToResolve(
  delta: number,
  sd: number,
  opts: { alpha?: number; power?: number; paired: boolean },
): number | null {
  const alpha = opts.alpha ?? 0.05;
  const power = opts.power ?? 0.8;
  if (!(Math.abs(delta) > 0) || !Number.isFinite(sd)) return null;
  if (sd === 0) return 2;
  const k = opts.paired ? 1 : 2;
  // The seeds a t-test needs, for n seeds (more seeds: smaller t quantiles, so fewer needed).
  const needs = (n: number) =>
    k *
    (((tQuantile(1 - alpha / 2, opts.paired ? n - 1 : 2 * n - 2) + tQuantile(power, opts.paired ? n - 1 : 2 * n - 2)) *
      sd) /
      delta) **
      2;
  // The normal approximation never asks for more than the t-test, so start there and step up to
  // the smallest n that suffices (a fixed-point iteration can oscillate between two values).
  let n = Math.max(2, Math.ceil(k * (((1.959964 + 0.841621) * sd) / delta) ** 2));
  while (n < 100_000 && needs(n) > n) n = n < 1000 ? n + 1 : Math.ceil(n * 1.01);
  return Math.min(n, 100_000);
}
