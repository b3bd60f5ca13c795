/**
 * LR transfer across scale (#28, the estimators): the best base LR η* of one schedule at one
 * scale, with its uncertainty, and the law η* = a · scale^b across scales, extrapolated to a
 * target with a prediction interval. Pure arithmetic over the objectives a sweep stored, so the
 * API, the CLI and the bench share it.
 */
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/** One base LR of a grid at one scale: the objective of each seed (null: the seed diverged). */
export interface LrPoint {
  lr: number;
  /** Indexed by seed (the same index is the same seed at every LR: a seed is resampled whole). */
  values: (number | null)[];
}

/** Why an optimum is not to be trusted as it stands. */
export type OptimumFlag = 'edge' | 'not_minimum' | 'censored' | 'too_few_points';

export interface OptimumEstimate {
  /** The estimate of η* (the fit's vertex, or the best grid point when the fit cannot say). */
  lr: number;
  /** The best grid point's LR. */
  gridBest: number;
  /** 95% interval of η* (a per-seed bootstrap); a censored optimum's upper end is the diverged LR. */
  interval: [number, number];
  /** One-sided: a diverged LR right above the best one bounds η* there. */
  censored: boolean;
  flags: OptimumFlag[];
}

/** A small seeded generator (mulberry32): bootstrap replications that are the same every run. */
export function seededRandom(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const quantile = (sorted: readonly number[], q: number) => {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  return sorted[lo]! + (sorted[Math.min(lo + 1, sorted.length - 1)]! - sorted[lo]!) * (i - lo);
};

/** Mean of the finite values, or null when a seed diverged or none is left (a diverged point). */
function pointMean(values: readonly (number | null)[], seeds: readonly number[]): number | null {
  let sum = 0;
  for (const s of seeds) {
    const v = values[s];
    if (v === null || v === undefined || !Number.isFinite(v)) return null;
    sum += v;
  }
  return seeds.length ? sum / seeds.length : null;
}

/**
 * The vertex (in log10 LR) of the least-squares parabola through `xs`, `ys`, when it is a
 * minimum inside the points' range; else null (and why).
 */
function vertex(xs: readonly number[], ys: readonly number[]): { x: number } | { why: 'not_minimum' | 'edge' } {
  // Centred for a well-conditioned 3×3 system.
  const xm = xs.reduce((a, b) => a + b, 0) / xs.length;
  const u = xs.map((x) => x - xm);
  const s = [0, 0, 0, 0, 0];
  const t = [0, 0, 0];
  u.forEach((x, i) => {
    for (let k = 0; k < 5; k++) s[k]! += x ** k;
    for (let k = 0; k < 3; k++) t[k]! += ys[i]! * x ** k;
  });
  // Normal equations for y = c0 + c1 u + c2 u² (Cramer's rule).
  const m = [
    [s[0]!, s[1]!, s[2]!],
    [s[1]!, s[2]!, s[3]!],
    [s[2]!, s[3]!, s[4]!],
  ];
  const det = (a: number[][]) =>
    a[0]![0]! * (a[1]![1]! * a[2]![2]! - a[1]![2]! * a[2]![1]!) -
    a[0]![1]! * (a[1]![0]! * a[2]![2]! - a[1]![2]! * a[2]![0]!) +
    a[0]![2]! * (a[1]![0]! * a[2]![1]! - a[1]![1]! * a[2]![0]!);
  const d = det(m);
  if (Math.abs(d) < 1e-300) return { why: 'not_minimum' };
  const col = (k: number) => m.map((row, i) => row.map((v, j) => (j === k ? t[i]! : v)));
  const c1 = det(col(1)) / d;
  const c2 = det(col(2)) / d;
  if (!(c2 > 0)) return { why: 'not_minimum' };
  const x = xm - c1 / (2 * c2);
  if (x < Math.min(...xs) || x > Math.max(...xs)) return { why: 'edge' };
  return { x };
}

/**
 * η* of one schedule at one scale from its LR grid: the best grid point (lowest mean objective
 * over seeds; `mode: 'max'` for accuracies), refined by a parabola in log10 LR through it and its
 * neighbours (up to two each side, at least 3 points), with a 95% interval from a per-seed
 * bootstrap (`replications` resamples of the seeds, the whole fit redone on each). Flags:
 * `edge` (the best point is the grid's first or last: the optimum may lie beyond), `not_minimum`
 * (the parabola opens the wrong way or its vertex leaves the points: the best grid point is the
 * estimate), `censored` (the LR right above the best diverged: η* is below it, the interval one
 * sided), `too_few_points`.
 */
export function estimateOptimum(
  points: readonly LrPoint[],
  o: { mode?: 'min' | 'max'; replications?: number; seed?: number } = {},
): OptimumEstimate | null {
  const sign = o.mode === 'max' ? -1 : 1;
  const grid = [...points].filter((p) => p.lr > 0).sort((a, b) => a.lr - b.lr);
  const seeds = grid[0]?.values.map((_, i) => i) ?? [];
  if (!grid.length || !seeds.length) return null;
  const fit = (use: readonly number[]) => {
    const means = grid.map((p) => {
      const m = pointMean(p.values, use);
      return m === null ? null : sign * m;
    });
    let best = -1;
    means.forEach((m, i) => {
      if (m !== null && (best < 0 || m < means[best]!)) best = i;
    });
    if (best < 0) return null;
    const lo = Math.max(0, best - 2);
    const window = [];
    for (let i = lo; i <= Math.min(grid.length - 1, best + 2); i++) if (means[i] !== null) window.push(i);
    const flags: OptimumFlag[] = [];
    if (best === 0 || best === grid.length - 1) flags.push('edge');
    const censored = best + 1 < grid.length && means[best + 1] === null;
    if (censored) flags.push('censored');
    let x = Math.log10(grid[best]!.lr);
    if (window.length < 3) flags.push('too_few_points');
    else {
      const v = vertex(
        window.map((i) => Math.log10(grid[i]!.lr)),
        window.map((i) => means[i]!),
      );
      if ('x' in v) x = v.x;
      else if (!flags.includes(v.why === 'edge' ? 'edge' : 'not_minimum'))
        flags.push(v.why === 'edge' ? 'edge' : 'not_minimum');
    }
    return { x, best, flags, censored };
  };
  const main = fit(seeds);
  if (!main) return null;
  const draw = seededRandom(o.seed ?? 1);
  const xs: number[] = [];
  for (let r = 0; r < (o.replications ?? 400); r++) {
    const use = seeds.map(() => seeds[Math.floor(draw() * seeds.length)]!);
    const f = fit(use);
    if (f) xs.push(f.x);
  }
  xs.sort((a, b) => a - b);
  const lo = xs.length ? 10 ** quantile(xs, 0.025) : grid[main.best]!.lr;
  let hi = xs.length ? 10 ** quantile(xs, 0.975) : grid[main.best]!.lr;
  if (main.censored) hi = grid[main.best + 1]!.lr;
  return {
    lr: 10 ** main.x,
    gridBest: grid[main.best]!.lr,
    interval: [Math.min(lo, 10 ** main.x), Math.max(hi, 10 ** main.x)],
    censored: main.censored,
    flags: main.flags,
  };
}

export interface TransferLaw {
  /** η* = a · scale^b. */
  a: number;
  b: number;
  /** 95% interval of the exponent b (ordinary least squares on log-log, Student t with n − 2 df). */
  bInterval: [number, number];
  /** The estimates it was fitted to. */
  points: { scale: number; lr: number }[];
  /** At the target scale: η* and its 95% prediction interval (a new scale's own scatter included). */
  target: { scale: number; lr: number; interval: [number, number] } | null;
  warnings: string[];
}

/**
 * The power law of η* across scales (width multipliers, or horizons), fitted on log10 η* against
 * log10 scale by least squares over at least 3 scales; its exponent's interval and, for a target
 * scale, the extrapolated η* with a prediction interval. Warnings: a prediction interval wider
 * than one step of the LR grid (`gridStepDecades`), and under μP an exponent whose interval
 * excludes 0 (μP promises η* does not move: the transfer does not hold).
 */
export function fitTransferLaw(
  estimates: readonly { scale: number; lr: number }[],
  o: { target?: number; gridStepDecades?: number; mup?: boolean } = {},
): TransferLaw | null {
  const pts = estimates.filter((e) => e.scale > 0 && e.lr > 0);
  const n = pts.length;
  if (n < 3) return null;
  const x = pts.map((p) => Math.log10(p.scale));
  const y = pts.map((p) => Math.log10(p.lr));
  const xm = x.reduce((s, v) => s + v, 0) / n;
  const ym = y.reduce((s, v) => s + v, 0) / n;
  const sxx = x.reduce((s, v) => s + (v - xm) ** 2, 0);
  if (sxx === 0) return null;
  const b = x.reduce((s, v, i) => s + (v - xm) * (y[i]! - ym), 0) / sxx;
  const a0 = ym - b * xm;
  const rss = x.reduce((s, v, i) => s + (y[i]! - a0 - b * v) ** 2, 0);
  const s2 = rss / (n - 2);
  const t = tQuantile(0.975, n - 2);
  const seB = Math.sqrt(s2 / sxx);
  const bInterval: [number, number] = [b - t * seB, b + t * seB];
  const warnings: string[] = [];
  let target: TransferLaw['target'] = null;
  if (o.target !== undefined && o.target > 0) {
    const x0 = Math.log10(o.target);
    const yhat = a0 + b * x0;
    const half = t * Math.sqrt(s2 * (1 + 1 / n + (x0 - xm) ** 2 / sxx));
    target = { scale: o.target, lr: 10 ** yhat, interval: [10 ** (yhat - half), 10 ** (yhat + half)] };
    if (o.gridStepDecades !== undefined && 2 * half > o.gridStepDecades) {
      warnings.push(
        `at scale ${o.target} the 95% prediction interval spans ${(2 * half).toFixed(2)} decades, wider than one step of the LR grid (${o.gridStepDecades.toFixed(2)}): measure closer to the target, or more seeds`,
      );
    }
  }
  if (o.mup && (bInterval[0] > 0 || bInterval[1] < 0)) {
    warnings.push(
      `under μP η* should not move with scale, but the exponent's 95% interval [${bInterval[0].toFixed(3)}, ${bInterval[1].toFixed(3)}] excludes 0: the transfer does not hold here`,
    );
  }
  return { a: 10 ** a0, b, bInterval, points: pts.map((p) => ({ scale: p.scale, lr: p.lr })), target, warnings };
}

/**
 * Kendall's τ-b between two rankings of the same items (the schedules at their own η*, at two
 * scales): 1 the same order, −1 reversed.
 */
export function kendallTau(a: readonly number[], b: readonly number[]): number | null {
  if (a.length !== b.length || a.length < 2) return null;
  let concordant = 0;
  let discordant = 0;
  let tiesA = 0;
  let tiesB = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const da = Math.sign(a[i]! - a[j]!);
      const db = Math.sign(b[i]! - b[j]!);
      if (da === 0 && db === 0) continue;
      if (da === 0) tiesA++;
      else if (db === 0) tiesB++;
      else if (da === db) concordant++;
      else discordant++;
    }
  }
  const denom = Math.sqrt((concordant + discordant + tiesA) * (concordant + discordant + tiesB));
  return denom ? (concordant - discordant) / denom : null;
}
