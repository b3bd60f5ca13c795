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
  if (va + vb === 0) return { t: meanDiff === 0 ? 0 : Math.sign(meanDiff) * Infinity, df: a.length + b.length - 2, p: meanDiff === 0 ? 1 : 0, meanDiff };
  const t = meanDiff / Math.sqrt(va + vb);
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  return { t, df, p: twoSided(t, df), meanDiff };
}

/** The paired t-test of a − b over matched pairs (two-sided); null below two pairs. */
export function pairedTest(a: readonly number[], b: readonly number[]): TestResult | null {
  if (a.length !== b.length) throw new Error('paired samples differ in length');
  if (a.length < 2) return null;
  const d = summarize(a.map((x, i) => x - b[i]!));
  const meanDiff = d.mean!;
  const df = a.length - 1;
  if (d.std === 0) return { t: meanDiff === 0 ? 0 : Math.sign(meanDiff) * Infinity, df, p: meanDiff === 0 ? 1 : 0, meanDiff };
  const t = meanDiff / d.sem!;
  return { t, df, p: twoSided(t, df), meanDiff };
}
