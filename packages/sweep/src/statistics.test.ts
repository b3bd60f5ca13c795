import { describe, expect, it } from 'vitest';
import { rankConfigurations, summarize, type TrialOutcome } from './index';

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
    const rows = rankConfigurations([t('a', 0.1, 'completed', 0.9), t('b', 0.2, 'completed', 0.95), t('b', 0.2, 'running', null)], 'max');
    expect(rows.map((r) => r.configId)).toEqual(['b', 'a']);
    expect(rows[0]!.partial).toBe(true);
    expect(rows[1]!.partial).toBe(false);
  });
});
