import { describe, expect, it } from 'vitest';
import { type SweepSpecInput, sweepSpecSchema } from '@lrsweep/contract';
import { lrSequence } from '@lrsweep/schedules';
import { decayStart, expandSweep, planForks, planTrials } from './index';

const spec = (
  over: Partial<SweepSpecInput['grid']> = {},
  training: Partial<SweepSpecInput['training']> = {},
): SweepSpecInput => ({
  name: 'forks',
  dataset: { name: 'mnist', trainSize: 1100, validationSize: 100, testSize: 100 },
  training: { epochs: 1, batchSize: 50, evalEvery: 10, ...training },
  grid: {
    horizon: [100, 200, 400],
    baseLr: [0.001, 0.003],
    schedule: [{ kind: 'wsd', decayFraction: 0.2, warmup: { steps: 10 } }],
    seeds: 2,
    ...over,
  },
});
const forksOf = (s: SweepSpecInput) => {
  const r = expandSweep(sweepSpecSchema.parse(s), { maxTrials: 1000 });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return { plan: r.plan, ...planForks(r.plan, planTrials(r.plan, 'sweep')) };
};

describe('forked cooldowns', () => {
  it('forks every shorter horizon of a wsd schedule from the longest, per base LR and seed', () => {
    const { trials, summary } = forksOf(spec());
    // 2 LRs × 2 seeds: 4 trunks (T=400), each with forks at T=100 (decay from 82) and T=200 (from 162).
    expect(summary).toEqual({ trunks: 4, forks: 8, updates: 4 * (400 + 18 + 38), independentUpdates: 4 * 700 });
    const trunks = trials.filter((t) => t.config.forks);
    expect(trunks.map((t) => t.totalSteps)).toEqual([400, 400, 400, 400]);
    for (const trunk of trunks) {
      const forks = trials.filter((t) => t.fork?.trunk === trunk.identity);
      expect(forks.map((f) => [f.totalSteps, f.fork!.atStep, f.config.seed, f.config.baseLr])).toEqual(
        [100, 200].map((h) => [h, h === 100 ? 82 : 162, trunk.config.seed, trunk.config.baseLr]),
      );
      expect(trunk.config.forks).toEqual(forks.map((f) => ({ identity: f.identity, atStep: f.fork!.atStep })));
    }
  });

  it('forks only where the rates agree before the fork point, and decay after it', () => {
    const { plan, trials } = forksOf(
      spec({
        baseLr: [0.001],
        seeds: 1,
        schedule: [{ kind: 'wsd', decaySteps: 30, decayShape: 'linear', warmup: { steps: 10, startFactor: 0.1 } }],
      }),
    );
    const trunk = trials.find((t) => t.config.forks)!;
    const rates = (t: (typeof trials)[number]) =>
      lrSequence(t.config.schedule, { baseLr: 0.001, totalSteps: t.totalSteps });
    const long = rates(trunk);
    for (const f of trials.filter((t) => t.fork)) {
      const own = rates(f);
      const at = f.fork!.atStep;
      expect(at).toBe(decayStart(plan.configs.find((c) => c.configId === f.configId)!.schedule, f.totalSteps));
      expect(own.slice(0, at + 1)).toEqual(long.slice(0, at + 1));
      expect(own[at + 1]).toBeLessThan(long[at + 1]!);
    }
  });

  it('forks any schedule given a cooldown whose rates before it do not depend on the horizon', () => {
    // constant + a 20-update cooldown: forks at 80 (T=100) and 180 (T=200) from the T=400 trunk.
    const constant = forksOf(
      spec({ baseLr: [0.001], seeds: 1, schedule: [{ kind: 'constant', cooldown: { steps: 20 } }] }),
    );
    expect(constant.trials.filter((t) => t.fork).map((t) => [t.totalSteps, t.fork!.atStep])).toEqual([
      [100, 80],
      [200, 180],
    ]);
    // A cosine over a fixed 400 updates with a 10% cooldown (10, 20, 40 updates): the same rates before each cooldown.
    const fixed = forksOf(
      spec({
        baseLr: [0.001],
        seeds: 1,
        schedule: [{ kind: 'cosine', steps: 400, cooldown: { fraction: 0.1, shape: '1-sqrt' } }],
      }),
    );
    expect(fixed.summary).toMatchObject({ trunks: 1, forks: 2, updates: 400 + 10 + 20 });
    for (const f of fixed.trials.filter((t) => t.fork)) {
      const trunk = fixed.trials.find((t) => t.identity === f.fork!.trunk)!;
      const own = lrSequence(f.config.schedule, { baseLr: 0.001, totalSteps: f.totalSteps });
      const long = lrSequence(trunk.config.schedule, { baseLr: 0.001, totalSteps: trunk.totalSteps });
      expect(own.slice(0, f.fork!.atStep)).toEqual(long.slice(0, f.fork!.atStep));
    }
    // A cosine laid out over each horizon decays differently from the first update: nothing forks.
    expect(forksOf(spec({ schedule: [{ kind: 'cosine', cooldown: { steps: 20 } }] })).summary).toMatchObject({
      trunks: 0,
      forks: 0,
    });
  });

  it('runs independently what cannot fork: a fraction warmup, SWA, other schedules, one horizon', () => {
    const none = (s: SweepSpecInput) => expect(forksOf(s).summary).toMatchObject({ trunks: 0, forks: 0 });
    // A 10% warmup is 10, 20 and 40 updates: the prefixes differ.
    none(spec({ schedule: [{ kind: 'wsd', decayFraction: 0.2, warmup: { steps: { fraction: 0.1 } } }] }));
    none(spec({}, { swaFraction: 0.25 }));
    none(spec({ schedule: [{ kind: 'cosine' }, { kind: 'constant' }] }));
    none(spec({ horizon: [400] }));
    const { trials } = forksOf(spec({ schedule: [{ kind: 'cosine' }, { kind: 'wsd', decaySteps: 20 }] }));
    expect(trials.filter((t) => t.fork).every((t) => t.config.schedule.kind === 'wsd')).toBe(true);
  });
});
