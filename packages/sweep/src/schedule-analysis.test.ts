import type { ScheduleSpec } from '@lrsweep/schedules';
import { describe, expect, it } from 'vitest';
import { analyzeSchedules, rankStats, type SeedValue } from './index';

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
  return { configId, config: { baseLr: Number(lr), schedule: kind === 'cos' ? cosine : constant }, n: v.length, mean, std, diverged: 0, seeds: v.length };
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
    const shiftedSeeds = (id: string): SeedValue[] => values(id).map((v) => ({ ...v, seed: v.seed + (id.startsWith('const') ? 100 : 0) }));
    const b = analyzeSchedules(ranking, shiftedSeeds, { mode: 'min', tolerance: 0.05, alpha: 0.05, describe: (s) => s.kind });
    expect(b.comparisons[0]!.paired).toBeNull();
    expect(b.comparisons[0]!.p).toBe(b.comparisons[0]!.welch!.p);
    const same = (id: string): SeedValue[] => (id.startsWith('const') ? values('cos@0.01') : values(id));
    const c = analyzeSchedules(ranking, same, { mode: 'min', tolerance: 0.05, alpha: 0.05, describe: (s) => s.kind });
    expect(c.comparisons[0]).toMatchObject({ significant: false, p: 1 });
  });
});
