// The LR-transfer estimators against known answers: synthetic objectives with a known power law
// η*(scale) = a · scale^b, plus noise; flags for optima at the grid's edge, censored by a
// divergence, or not a minimum.
import { describe, expect, it } from 'vitest';
import { estimateOptimum, fitTransferLaw, kendallTau, type LrPoint } from './transfer';

/** A seeded normal generator (Box–Muller over mulberry32). */
function normal(seed: number) {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

const grid = Array.from({ length: 11 }, (_, i) => 10 ** (-3.5 + 0.25 * i));
/** A seed's objective over the grid: a parabola in log10 LR around `opt`, a per-seed offset, per-point noise. */
function sweepAt(opt: number, seeds: number, noise: () => number, sigma = 0.01): LrPoint[] {
  const offsets = Array.from({ length: seeds }, () => 0.05 * noise());
  return grid.map((lr) => ({
    lr,
    values: offsets.map((off) => 0.5 * (Math.log10(lr) - Math.log10(opt)) ** 2 + off + sigma * noise()),
  }));
}

describe('estimateOptimum', () => {
  it('finds η* between grid points, with an interval around it', () => {
    const e = estimateOptimum(sweepAt(0.0042, 3, normal(1), 0.002))!;
    expect(Math.abs(Math.log10(e.lr) - Math.log10(0.0042))).toBeLessThan(0.05);
    expect(e.interval[0]).toBeLessThanOrEqual(e.lr);
    expect(e.interval[1]).toBeGreaterThanOrEqual(e.lr);
    expect(e.flags).toEqual([]);
  });

  it("flags an optimum at the grid's edge", () => {
    const e = estimateOptimum(sweepAt(0.5, 3, normal(2)))!;
    expect(e.gridBest).toBe(grid.at(-1));
    expect(e.flags).toContain('edge');
  });

  it('makes an optimum next to a diverged LR censored, its interval one-sided at that LR — never dropping the point', () => {
    const points = sweepAt(0.01, 3, normal(3));
    const best = points.reduce((b, p, i) => (p.values[0]! < points[b]!.values[0]! ? i : b), 0);
    points[best + 1] = { lr: points[best + 1]!.lr, values: [null, 0.1, null] };
    const e = estimateOptimum(points)!;
    expect(e.censored).toBe(true);
    expect(e.flags).toContain('censored');
    expect(e.interval[1]).toBe(points[best + 1]!.lr);
  });

  it('falls back to the best grid point when the objective is not a minimum there', () => {
    // A W around the best point: the parabola through it and two neighbours each side opens downwards.
    const shape = [5, 5, 5, 1.01, 3, 1, 3, 1.01, 5, 5, 5];
    const e = estimateOptimum(grid.map((lr, i) => ({ lr, values: [shape[i]!, shape[i]!] })))!;
    expect(e.flags).toContain('not_minimum');
    expect(e.gridBest).toBe(grid[5]);
    expect(e.lr).toBe(e.gridBest);
  });
});

describe('fitTransferLaw', () => {
  it('recovers an exact power law and extrapolates it', () => {
    const pts = [1, 2, 4, 8, 16].map((scale) => ({ scale, lr: 0.01 * scale ** -0.5 }));
    const law = fitTransferLaw(pts, { target: 64 })!;
    expect(law.b).toBeCloseTo(-0.5, 10);
    expect(law.a).toBeCloseTo(0.01, 10);
    expect(law.target!.lr).toBeCloseTo(0.01 / 8, 10);
  });

  it("covers the true exponent with its 95% interval in ≥ 90 of 100 noisy replications (η* estimated from each sweep's own seeds)", () => {
    const truth = -0.5;
    const scales = [1, 2, 4, 8, 16];
    let covered = 0;
    let widthSum = 0;
    for (let r = 0; r < 100; r++) {
      const noise = normal(1000 + r);
      const estimates = scales.map((scale) => ({
        scale,
        lr: estimateOptimum(sweepAt(0.01 * scale ** truth, 3, noise), { replications: 50, seed: r })!.lr,
      }));
      const law = fitTransferLaw(estimates)!;
      if (law.bInterval[0] <= truth && truth <= law.bInterval[1]) covered++;
      widthSum += law.bInterval[1] - law.bInterval[0];
    }
    console.log(
      `transfer law: the exponent's 95% interval covered the truth in ${covered}/100 replications (mean width ${(widthSum / 100).toFixed(3)})`,
    );
    expect(covered).toBeGreaterThanOrEqual(90);
    expect(widthSum / 100).toBeLessThan(0.5);
  });

  it('warns when the target is too far to call within a grid step, and when μP does not hold', () => {
    const noise = normal(7);
    const pts = [1, 2, 4].map((scale) => ({ scale, lr: 0.01 * scale ** -0.5 * 10 ** (0.05 * noise()) }));
    const far = fitTransferLaw(pts, { target: 1024, gridStepDecades: 0.25 })!;
    expect(far.warnings.some((w) => /wider than one step of the LR grid/.test(w))).toBe(true);
    const moving = fitTransferLaw(
      [1, 2, 4, 8].map((scale) => ({ scale, lr: 0.01 * scale ** -1 * (1 + 0.001 * scale) })),
      { mup: true },
    )!;
    expect(moving.warnings.some((w) => /μP/.test(w))).toBe(true);
    const still = fitTransferLaw(
      [1, 2, 4, 8].map((scale, i) => ({ scale, lr: 0.01 * (1 + 0.02 * [1, -1, -1, 1][i]!) })),
      { mup: true },
    )!;
    expect(still.warnings).toEqual([]);
  });

  it('needs three scales', () => {
    expect(
      fitTransferLaw([
        { scale: 1, lr: 0.1 },
        { scale: 2, lr: 0.05 },
      ]),
    ).toBeNull();
  });
});

describe('kendallTau', () => {
  it('is 1 for the same order, −1 reversed, between for a swap', () => {
    expect(kendallTau([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(kendallTau([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    expect(kendallTau([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(4 / 6, 12);
  });
});
