import type { ScheduleSpec } from '@lrsweep/schedules';
import { describe, expect, it } from 'vitest';
import { pTwoSided } from '@lrsweep/testkit';
import { analyzeSchedules, rankStats, type SeedValue, seedsToResolve } from './index';

const cosine: ScheduleSpec = { kind: 'cosine', minFactor: 0 };
const constant: ScheduleSpec = { kind: 'constant' };

/** seed → value for each configuration; cosine is better by a planted 0.05 at every seed. */
const seeds: Record<string, number[]> = {
  'cos@0.001': [0.42, 0.44, 0.43],
  'cos@0.01': [0.3, 0.31, 0.32],
  'cos@0.03': [0.305, 0.315, 0.32],
  'cos@0.1': [0.6, 0.65, 0.62],
  'const@0.001': [0.45, 0.47, 0.46],
  'const@0.01': [0.35, 0.36, 0.37],
  'const@0.1': [0.9, 0.95, 0.97],
};
const stats = Object.entries(seeds).map(([configId, v]) => {
  const [kind, lr] = configId.split('@');
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
  return {
    configId,
    config: { baseLr: Number(lr), schedule: kind === 'cos' ? cosine : constant },
    n: v.length,
    mean,
    std,
    diverged: 0,
    seeds: v.length,
  };
});
const ranking = rankStats(stats, 'min').map((r) => ({ ...r, scheduleKey: r.configId.split('@')[0]! }));
const values = (id: string): SeedValue[] => seeds[id]!.map((value, seed) => ({ seed, value }));

describe('analyzeSchedules', () => {
  const a = analyzeSchedules(ranking, values, { mode: 'min', tolerance: 0.05, alpha: 0.05, describe: (s) => s.kind });

  it("finds each schedule's best base LR and orders schedules by it", () => {
    expect(a.winner).toBe('cos');
    expect(a.schedules.map((s) => [s.scheduleKey, s.best?.baseLr])).toEqual([
      ['cos', 0.01],
      ['const', 0.01],
    ]);
    expect(a.schedules[0]!.best!.mean).toBeCloseTo(0.31, 12);
  });

  it('gives the LR-sensitivity curve in LR order and the width of the good basin', () => {
    const cos = a.schedules[0]!;
    expect(cos.sensitivity.map((p) => p.baseLr)).toEqual([0.001, 0.01, 0.03, 0.1]);
    // 0.03 is within 5% of the best (0.3133 ≤ 0.31·1.05); 0.001 and 0.1 are not.
    expect(cos.basin).toEqual({ lo: 0.01, hi: 0.03, widthDecades: Math.log10(3), points: 2 });
    expect(a.schedules[1]!.basin).toMatchObject({ lo: 0.01, hi: 0.01, widthDecades: 0, points: 1 });
  });

  it('compares schedules at their own best LR, paired over shared seeds, and says whether the lead is significant', () => {
    expect(a.comparisons).toHaveLength(1);
    const c = a.comparisons[0]!;
    expect(c).toMatchObject({ a: 'cos', b: 'const', significant: true });
    expect(c.meanDiff).toBeCloseTo(-0.05, 12);
    expect(c.paired?.pairs).toBe(3);
    expect(c.p).toBe(c.paired!.p);
    expect(a.verdict).toContain('Best: cosine (base LR 0.01); significantly better than constant (base LR 0.01)');
  });

  it('falls back to Welch without shared seeds, and calls identical results not significant', () => {
    const shiftedSeeds = (id: string): SeedValue[] =>
      values(id).map((v) => ({ ...v, seed: v.seed + (id.startsWith('const') ? 100 : 0) }));
    const b = analyzeSchedules(ranking, shiftedSeeds, {
      mode: 'min',
      tolerance: 0.05,
      alpha: 0.05,
      describe: (s) => s.kind,
    });
    expect(b.comparisons[0]!.paired).toBeNull();
    expect(b.comparisons[0]!.p).toBe(b.comparisons[0]!.welch!.p);
    const same = (id: string): SeedValue[] => (id.startsWith('const') ? values('cos@0.01') : values(id));
    const c = analyzeSchedules(ranking, same, { mode: 'min', tolerance: 0.05, alpha: 0.05, describe: (s) => s.kind });
    expect(c.comparisons[0]).toMatchObject({ significant: false, p: 1 });
  });
});

describe('the verdict table', () => {
  // Three schedules: cosine best by 0.05, linear 0.02 behind it, constant 0.05 behind; 4 seeds each.
  const planted: Record<string, number[]> = {
    'cos@0.01': [0.3, 0.31, 0.32, 0.305],
    'cos@0.03': [0.33, 0.34, 0.35, 0.36],
    'lin@0.01': [0.318, 0.335, 0.338, 0.33],
    'lin@0.03': [0.4, 0.41, 0.42, 0.43],
    'const@0.003': [0.5, 0.52, 0.51, 0.5],
    'const@0.01': [0.35, 0.36, 0.37, 0.355],
  };
  const kinds: Record<string, ScheduleSpec> = {
    cos: cosine,
    lin: { kind: 'linear', startFactor: 1, endFactor: 0 },
    const: constant,
  };
  const st = Object.entries(planted).map(([configId, v]) => {
    const [k, lr] = configId.split('@');
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
    return {
      configId,
      config: { baseLr: Number(lr), schedule: kinds[k!]! },
      n: v.length,
      mean: m,
      std: sd,
      diverged: 0,
      seeds: v.length,
    };
  });
  const rk = rankStats(st, 'min').map((r) => ({ ...r, scheduleKey: r.configId.split('@')[0]! }));
  const vals = (id: string): SeedValue[] => planted[id]!.map((value, seed) => ({ seed, value }));
  const a = analyzeSchedules(rk, vals, { mode: 'min', tolerance: 0.05, alpha: 0.05, describe: (s) => s.kind });

  it('has one row per schedule at its best LR, the winner first, Δ to the winner', () => {
    expect(a.rows.map((r) => [r.scheduleKey, r.baseLr])).toEqual([
      ['cos', 0.01],
      ['lin', 0.01],
      ['const', 0.01],
    ]);
    expect(a.rows[0]).toMatchObject({ delta: 0, p: null, pHolm: null, indistinguishable: false, test: null });
    expect(a.rows[1]!.delta).toBeCloseTo(0.33025 - 0.30875, 12);
    expect(a.rows[2]!.delta).toBeCloseTo(0.35875 - 0.30875, 12);
  });

  it('adjusts the k − 1 comparisons with the winner by Holm, and marks what cannot be told from it', () => {
    const [p1, p2] = [a.rows[1]!.p!, a.rows[2]!.p!];
    // Holm by hand: the smaller p is doubled, the larger kept (but never below the first).
    const [lo, hi] = p1 < p2 ? [p1, p2] : [p2, p1];
    const adj = new Map([
      [lo, Math.min(1, 2 * lo)],
      [hi, Math.max(Math.min(1, 2 * lo), hi)],
    ]);
    expect(a.rows[1]!.pHolm).toBeCloseTo(adj.get(p1)!, 12);
    expect(a.rows[2]!.pHolm).toBeCloseTo(adj.get(p2)!, 12);
    for (const r of a.rows.slice(1)) expect(r.indistinguishable).toBe(!(r.pHolm! < 0.05));
    expect(a.rows[2]!.indistinguishable).toBe(false);
    // The comparison list carries the same adjusted p.
    expect(a.comparisons.find((c) => c.a === 'cos' && c.b === 'lin')!.pHolm).toBe(a.rows[1]!.pHolm);
    expect(a.comparisons.find((c) => c.a === 'lin' && c.b === 'const')!.pHolm).toBeNull();
  });

  it("gives the paired difference's 95% CI: at its ends the paired test's p is 0.05 (by an independent t density)", () => {
    const r = a.rows[1]!;
    expect(r.test).toBe('paired');
    const d = planted['lin@0.01']!.map((v, i) => v - planted['cos@0.01']![i]!);
    const m = d.reduce((x, y) => x + y, 0) / d.length;
    const sem = Math.sqrt(d.reduce((x, y) => x + (y - m) ** 2, 0) / (d.length - 1) / d.length);
    expect((r.diffCi95![0] + r.diffCi95![1]) / 2).toBeCloseTo(m, 12);
    expect(pTwoSided((m - r.diffCi95![0]) / sem, d.length - 1)).toBeCloseTo(0.05, 4);
  });

  it('estimates the seeds that would resolve the top two (G*Power: d_z 0.5 → 34, d_z 1 → 10 at α 0.05, power 0.8)', () => {
    expect(seedsToResolve(0.5, 1, { paired: true })).toBe(34);
    expect(seedsToResolve(1, 1, { paired: true })).toBe(10);
    // Two independent groups, d = 0.5: 64 per group.
    expect(seedsToResolve(0.5, 1, { paired: false })).toBe(64);
    // A huge effect (d ≈ 8.5): two seeds leave a paired t-test one degree of freedom, too few; three suffice.
    expect(seedsToResolve(0.115, 0.0135, { paired: true })).toBe(3);
    expect(a.seedsToResolve).toBeGreaterThanOrEqual(2);
  });

  it('warns of a best LR at the edge of the grid, too few seeds, and diverged or partial groups', () => {
    expect(a.rows[0]!.warnings.map((w) => w.code)).toContain('best_lr_at_edge');
    expect(a.rows[0]!.warnings[0]!.message).toContain('the best base LR 0.01 is the smallest in the grid');
    expect(a.rows[2]!.warnings.map((w) => w.code)).toContain('best_lr_at_edge');
    const two = rankStats(
      st.map((s) => ({ ...s, n: 2, seeds: 3, diverged: s.configId === 'cos@0.03' ? 1 : 0 })),
      'min',
    ).map((r) => ({ ...r, scheduleKey: r.configId.split('@')[0]! }));
    const b = analyzeSchedules(two, (id) => vals(id).slice(0, 2), {
      mode: 'min',
      tolerance: 0.05,
      alpha: 0.05,
      describe: (s) => s.kind,
    });
    const codes = b.rows.find((r) => r.scheduleKey === 'cos')!.warnings.map((w) => w.code);
    expect(codes).toEqual(expect.arrayContaining(['few_seeds', 'diverged']));
    expect(b.rows.find((r) => r.scheduleKey === 'lin')!.warnings.map((w) => w.code)).toContain('partial');
    expect(b.rows[0]!.warnings.find((w) => w.code === 'few_seeds')!.message).toMatch(
      /about \d+ per configuration would resolve the top two/,
    );
  });
});
