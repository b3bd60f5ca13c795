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

export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { n, mean: null, std: null, sem: null, ci95: null };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, std: null, sem: null, ci95: null };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const std = Math.sqrt(variance);
  const sem = std / Math.sqrt(n);
  const half = tQuantile(0.975, n - 1) * sem;
  return { n, mean, std, sem, ci95: [mean - half, mean + half] };
}
