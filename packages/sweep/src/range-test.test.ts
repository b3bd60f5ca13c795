import { describe, expect, it } from 'vitest';
import { rangeTestAnswer } from './range-test';

/** A ramp from 1e-5 to 1 over 200 updates and a loss shaped like a range test's: flat, falling, lowest near 0.03, exploding past 0.3. */
const ramp = (noise: number, seed: number) => {
  const lr = Array.from({ length: 200 }, (_, t) => 1e-5 * 1e5 ** (t / 199));
  let s = seed;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * noise;
  const loss = lr.map((x) => {
    const u = Math.log10(x);
    return 2.3 - 2 / (1 + Math.exp(-(u + 3) * 3)) + (x > 0.03 ? 40 * (x - 0.03) ** 1.5 : 0) + rnd();
  });
  return { lr, loss };
};

describe('range test answer', () => {
  it('averages the seeds, finds the steepest fall and the low, and suggests a grid between them', () => {
    const a = rangeTestAnswer([ramp(0.05, 1), ramp(0.05, 2)])!;
    expect(a.seeds).toBe(2);
    // The loss falls fastest around 1e-3 (the sigmoid's middle) and is lowest a little below 0.03.
    expect(a.steepestLr).toBeGreaterThan(3e-4);
    expect(a.steepestLr).toBeLessThan(3e-3);
    expect(a.minLossLr).toBeGreaterThan(3e-3);
    expect(a.minLossLr).toBeLessThan(0.1);
    expect(a.divergedAtLr).not.toBeNull();
    expect(a.divergedAtLr!).toBeGreaterThan(a.minLossLr);
    const g = a.suggested.baseLr;
    expect(g).toHaveLength(6);
    expect(g.every((x, i) => i === 0 || x > g[i - 1]!)).toBe(true);
    // Two significant digits: within 5% of a third of the steepest point.
    expect(g[0]!).toBeLessThanOrEqual((1.05 * a.steepestLr) / 3);
    expect(g.at(-1)!).toBeCloseTo(Number(a.minLossLr.toPrecision(2)), 12);
    expect(a.points.length).toBeLessThanOrEqual(201);
  });

  it('stops the curve where the trainer stopped the first seed, and answers null without data', () => {
    const s = ramp(0, 1);
    const short = { lr: s.lr.slice(0, 150), loss: s.loss.slice(0, 150), divergedAtStep: 149 };
    const a = rangeTestAnswer([s, short])!;
    expect(a.points.at(-1)!.lr).toBeLessThanOrEqual(s.lr[149]!);
    expect(rangeTestAnswer([])).toBeNull();
    expect(rangeTestAnswer([{ lr: [1e-3], loss: [1] }])).toBeNull();
  });
});
