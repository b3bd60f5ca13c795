// The transfer study's answer (transfer-analysis.ts) on synthetic sweeps whose η*(width) and
// schedule ranking are known: the law's exponent, the extrapolation, the rankings, τ, and the
// plain statement of whether the winner changes.
import { describe, expect, it } from 'vitest';
import { analyzeTransfer, type TransferTrial } from './transfer-analysis';
import { seededRandom } from './transfer';

const widths = [64, 128, 256, 512];
const lrs = [-3.5, -3, -2.5, -2, -1.5, -1, -0.5].map((e) => 10 ** e);
const seeds = [0, 1, 2, 3];
/** η*(w) = 0.01 · (w / 64)^-1: the exponent is −1. */
const etaStar = (w: number) => 0.01 * (w / 64) ** -1;

function sweep(
  offset: (schedule: string, width: number) => number,
  noise = 0.01,
  tweak?: (t: TransferTrial) => TransferTrial,
) {
  const draw = seededRandom(42);
  const out: TransferTrial[] = [];
  for (const schedule of ['cosine', 'linear', 'constant'])
    for (const width of widths)
      for (const lr of lrs)
        for (const seed of seeds) {
          const value =
            (Math.log10(lr) - Math.log10(etaStar(width))) ** 2 + offset(schedule, width) + noise * (draw() - 0.5);
          const t: TransferTrial = {
            scheduleKey: schedule,
            schedule,
            lr,
            width,
            steps: null,
            seed,
            status: 'completed',
            value,
          };
          out.push(tweak ? tweak(t) : t);
        }
  return out;
}
const opts = { mode: 'min' as const, width: { baseWidth: 64, target: 1024 }, parametrization: 'standard' as const };

describe('analyzeTransfer', () => {
  it('finds the exponent, extrapolates to the target, and says the winner holds at every width', () => {
    const offsets: Record<string, number> = { cosine: 0, linear: 0.05, constant: 0.1 };
    const a = analyzeTransfer(
      sweep((s) => offsets[s]!),
      opts,
    );
    expect(a.pending).toBe(0);
    expect(a.optima).toHaveLength(12);
    expect(a.laws).toHaveLength(3);
    for (const law of a.laws) {
      expect(law.axis).toBe('width');
      expect(law.b).toBeCloseTo(-1, 1);
      expect(law.bInterval[0]).toBeLessThan(-1);
      expect(law.bInterval[1]).toBeGreaterThan(-1);
      // Target 1024 = scale 16: η* = 0.01 / 16.
      expect(law.target!.scale).toBe(16);
      expect(law.target!.interval[0]).toBeLessThan(0.01 / 16);
      expect(law.target!.interval[1]).toBeGreaterThan(0.01 / 16);
    }
    expect(a.rankings.map((r) => r.order.map((o) => o.schedule))).toEqual(
      Array(4).fill(['cosine', 'linear', 'constant']),
    );
    expect(a.tau).toMatchObject({ axis: 'width', from: 1, to: 8, tau: 1 });
    expect(a.tau!.interval![0]).toBeGreaterThan(0.5);
    expect(a.winner).toEqual({
      flips: false,
      statement:
        'cosine beats linear and constant at every width (64, 128, 256 and 512); the gap stays about the same.',
    });
  });

  it('says where the winner changes, and τ turns negative', () => {
    // Constant is worse at small widths and better at large ones; linear in between throughout.
    const a = analyzeTransfer(
      sweep((s, w) => (s === 'cosine' ? 0.2 : s === 'linear' ? 0.3 : 0.35 - 0.1 * Math.log2(w / 64))),
      opts,
    );
    expect(a.winner).toEqual({
      flips: true,
      statement: 'The winner changes with width: cosine at 64 and 128; constant at 256 and 512.',
    });
    expect(a.tau!.tau).toBeLessThan(0);
  });

  it('censors an optimum whose next LR diverged, and warns that the law leans on a bound there', () => {
    const diverge = (t: TransferTrial): TransferTrial =>
      t.width === 64 && t.lr > etaStar(64) * 1.5 ? { ...t, status: 'diverged', value: null } : t;
    const a = analyzeTransfer(
      sweep(() => 0, 0.01, diverge),
      opts,
    );
    const at64 = a.optima.filter((o) => o.width === 64);
    expect(at64.every((o) => o.censored && o.flags.includes('censored'))).toBe(true);
    expect(at64.every((o) => o.interval[1] === 10 ** -1.5)).toBe(true);
    expect(a.warnings.some((w) => w.includes('leans on a bound'))).toBe(true);
  });

  it('counts unfinished trials and leaves out the seeds they belong to', () => {
    const running = (t: TransferTrial): TransferTrial =>
      t.seed === 3 && t.width === 128 && t.lr === lrs[0] ? { ...t, status: 'running', value: null } : t;
    const a = analyzeTransfer(
      sweep(() => 0, 0.01, running),
      opts,
    );
    expect(a.pending).toBe(3);
    expect(a.optima.filter((o) => o.width === 128).map((o) => o.seeds)).toEqual([3, 3, 3]);
    expect(a.optima.filter((o) => o.width === 64).map((o) => o.seeds)).toEqual([4, 4, 4]);
    expect(a.warnings[0]).toBe('3 trials have not finished: the estimates are over the finished ones');
  });

  it('warns under μP when η* moves with width, and asks for a third width before fitting a law', () => {
    const mup = analyzeTransfer(
      sweep(() => 0),
      { ...opts, parametrization: 'mup' },
    );
    expect(mup.laws.every((l) => l.warnings.some((w) => w.includes('under μP η* should not move')))).toBe(true);
    const two = analyzeTransfer(
      sweep(() => 0).filter((t) => t.width! <= 128),
      opts,
    );
    expect(two.laws).toEqual([]);
    expect(two.warnings).toContain('cosine: 2 widths measured; a law needs 3');
  });

  it('fits along the horizon too, and per horizon when both axes are marked', () => {
    // η*(T) = 0.01 · (T / 1000)^-0.5 at every width; the width axis as before.
    const horizons = [1000, 4000, 16000];
    const draw = seededRandom(7);
    const trials: TransferTrial[] = [];
    for (const steps of horizons)
      for (const width of widths)
        for (const lr of lrs)
          for (const seed of [0, 1, 2])
            trials.push({
              scheduleKey: 'cosine',
              schedule: 'cosine',
              lr,
              width,
              steps,
              seed,
              status: 'completed',
              value:
                (Math.log10(lr) - Math.log10(etaStar(width) * (steps / 1000) ** -0.5)) ** 2 + 0.01 * (draw() - 0.5),
            });
    const a = analyzeTransfer(trials, { ...opts, length: { target: 64000 } });
    const along = (axis: string) => a.laws.filter((l) => l.axis === axis);
    // One width law per horizon, one length law per width.
    expect(along('width').map((l) => l.at)).toEqual(horizons);
    expect(along('length').map((l) => l.at)).toEqual(widths);
    for (const l of along('width')) expect(l.b).toBeCloseTo(-1, 1);
    for (const l of along('length')) {
      expect(l.b).toBeCloseTo(-0.5, 1);
      expect(l.target!.scale).toBe(64000);
    }
  });
});
