import { describe, expect, it } from 'vitest';
import { pTwoSided } from '@lrsweep/testkit';
import { pairedTest, rankConfigurations, rankStats, summarize, type TrialOutcome, welchTest } from './index';

describe('summarize', () => {
  it('matches independently computed values (t quantiles from published tables)', () => {
    // t(0.975, 3) = 3.182446305284263, t(0.975, 1) = 12.706204736174703
    const s = summarize([1, 2, 3, 4]);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 14);
    expect(s.sem).toBeCloseTo(Math.sqrt(5 / 3) / 2, 14);
    const half = (3.182446305284263 * Math.sqrt(5 / 3)) / 2;
    expect(s.ci95![0]).toBeCloseTo(2.5 - half, 10);
    expect(s.ci95![1]).toBeCloseTo(2.5 + half, 10);
    const two = summarize([0.3, 0.5]);
    expect(two.ci95![1] - two.mean!).toBeCloseTo(12.706204736174703 * (Math.sqrt(0.02) / Math.sqrt(2)), 10);
  });

  it('has no spread below two values and nothing at all for none', () => {
    expect(summarize([0.7])).toEqual({ n: 1, mean: 0.7, std: null, sem: null, ci95: null });
    expect(summarize([])).toEqual({ n: 0, mean: null, std: null, sem: null, ci95: null });
  });
});

describe('rankConfigurations', () => {
  const t = (configId: string, baseLr: number, status: TrialOutcome['status'], value: number | null): TrialOutcome => ({
    configId,
    baseLr,
    schedule: { kind: 'constant' },
    status,
    value,
  });

  it('pools seeds per configuration, best mean first, diverged configurations last', () => {
    const rows = rankConfigurations(
      [
        t('a', 0.1, 'completed', 0.5),
        t('a', 0.1, 'completed', 0.7),
        t('b', 0.2, 'completed', 0.2),
        t('b', 0.2, 'diverged', null),
        t('c', 0.3, 'completed', 0.4),
        t('c', 0.3, 'completed', 0.4),
        t('d', 0.4, 'diverged', null),
        t('d', 0.4, 'diverged', null),
      ],
      'min',
    );
    expect(rows.map((r) => [r.rank, r.configId, r.n, r.diverged])).toEqual([
      [1, 'c', 2, 0],
      [2, 'a', 2, 0],
      [3, 'b', 1, 1],
      [4, 'd', 0, 2],
    ]);
    expect(rows[1]!.mean).toBeCloseTo(0.6, 15);
    expect(rows[2]).toMatchObject({ mean: 0.2, std: null, ci95: null });
    expect(rows[3]).toMatchObject({ mean: null, std: null, ci95: null, partial: false });
  });

  it('ranks higher first for max objectives and flags partial groups', () => {
    const rows = rankConfigurations(
      [t('a', 0.1, 'completed', 0.9), t('b', 0.2, 'completed', 0.95), t('b', 0.2, 'running', null)],
      'max',
    );
    expect(rows.map((r) => r.configId)).toEqual(['b', 'a']);
    expect(rows[0]!.partial).toBe(true);
    expect(rows[1]!.partial).toBe(false);
  });
});

describe('Welch and paired t-tests', () => {
  const a = [0.91, 0.87, 0.95, 0.89, 0.93];
  const b = [0.82, 0.85, 0.8, 0.86, 0.79, 0.84];

  it('Welch: t, Welch–Satterthwaite df and p as computed by hand', () => {
    const mean = (x: number[]) => x.reduce((p, q) => p + q, 0) / x.length;
    const v = (x: number[]) => x.reduce((p, q) => p + (q - mean(x)) ** 2, 0) / (x.length - 1);
    const se2a = v(a) / a.length;
    const se2b = v(b) / b.length;
    const t = (mean(a) - mean(b)) / Math.sqrt(se2a + se2b);
    const df = (se2a + se2b) ** 2 / (se2a ** 2 / (a.length - 1) + se2b ** 2 / (b.length - 1));
    const r = welchTest(a, b)!;
    expect(r.t).toBeCloseTo(t, 12);
    expect(r.df).toBeCloseTo(df, 12);
    expect(r.p).toBeCloseTo(pTwoSided(t, df), 8);
    expect(r.p).toBeLessThan(0.05);
  });

  it('paired: the t-test of the differences, p as computed by hand', () => {
    const x = [0.5, 0.62, 0.48, 0.55, 0.6, 0.52];
    const y = [0.47, 0.6, 0.47, 0.5, 0.58, 0.51];
    const d = x.map((v, i) => v - y[i]!);
    const md = d.reduce((p, q) => p + q, 0) / d.length;
    const sd = Math.sqrt(d.reduce((p, q) => p + (q - md) ** 2, 0) / (d.length - 1));
    const t = md / (sd / Math.sqrt(d.length));
    const r = pairedTest(x, y)!;
    expect(r.t).toBeCloseTo(t, 12);
    expect(r.df).toBe(5);
    expect(r.p).toBeCloseTo(pTwoSided(t, 5), 8);
    // The pairing matters: the same numbers unpaired are far from significant.
    expect(r.p).toBeLessThan(0.05);
    expect(welchTest(x, y)!.p).toBeGreaterThan(0.3);
  });

  it('a planted effect is significant; identical groups are not', () => {
    const base = [1.02, 0.98, 1.05, 0.97, 1.01, 0.99, 1.03, 0.96];
    const shifted = base.map((v, i) => v - 0.2 + (i % 2 ? 0.01 : -0.01));
    expect(welchTest(base, shifted)!.p).toBeLessThan(0.05);
    expect(pairedTest(base, shifted)!.p).toBeLessThan(0.05);
    expect(welchTest(base, [...base])!.p).toBe(1);
    expect(pairedTest(base, [...base])!.p).toBe(1);
    const shuffled = [...base].reverse();
    expect(welchTest(base, shuffled)!.p).toBeGreaterThan(0.05);
  });

  it('needs two values a side', () => {
    expect(welchTest([1], [2, 3])).toBeNull();
    expect(pairedTest([1], [2])).toBeNull();
  });
});

describe('ranking by the pessimistic CI bound', () => {
  const row = (configId: string, n: number, mean: number, std: number | null) => ({
    configId,
    config: { baseLr: 0.1, schedule: { kind: 'constant' as const } },
    n,
    mean,
    std,
    diverged: 0,
    seeds: n,
  });
  it('orders by the upper bound for min objectives, configurations without a CI after', () => {
    // a: lower mean but wide; b: slightly higher mean, tight; c: one seed, no CI.
    const stats = [row('a', 3, 0.3, 0.2), row('b', 3, 0.35, 0.01), row('c', 1, 0.1, null)];
    expect(rankStats(stats, 'min', 'mean').map((r) => r.configId)).toEqual(['c', 'a', 'b']);
    expect(rankStats(stats, 'min', 'ci').map((r) => r.configId)).toEqual(['b', 'a', 'c']);
    expect(rankStats(stats, 'max', 'ci').map((r) => r.configId)).toEqual(['b', 'a', 'c']);
  });
});
