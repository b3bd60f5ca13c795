import { describe, expect, it } from 'vitest';
import { type SweepSpecInput, sweepSpecSchema } from '@lrsweep/contract';
import { expandSweep, planTrials, trialIdentity } from './index';

const parse = (s: SweepSpecInput) => sweepSpecSchema.parse(s);
const base: SweepSpecInput = {
  name: 'x',
  dataset: { name: 'mnist', trainSize: 8000, testSize: 2000 },
  training: { epochs: 3, batchSize: 64, evalEvery: 50 },
  grid: {
    baseLr: [0.0003, 0.001, 0.003],
    schedule: [{ kind: 'constant' }, { kind: 'linear' }, { kind: 'cosine', warmup: { steps: [0, 100] } }],
    seeds: [0, 1],
  },
};
const expand = (s: SweepSpecInput, maxTrials = 10_000) => expandSweep(parse(s), { maxTrials });

describe('grid expansion (SWEEP_API.md)', () => {
  it('expands the contract example into 24 trials with T = epochs × ceil((trainSize − validationSize) / batchSize)', () => {
    const r = expand(base);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.plan.trialCount).toBe(24);
    expect(r.plan.configs).toHaveLength(12);
    // validationSize defaults to ceil(8000 / 10) = 800: 7 200 samples train, 113 updates an epoch.
    expect(r.plan.totalSteps).toBe(3 * 113);
    expect(planTrials(r.plan, 's1')).toHaveLength(24);
  });

  it('reads a seed count as 0 … n−1', () => {
    const r = expand({ ...base, grid: { ...base.grid, seeds: 3 } });
    expect(r.ok && r.plan.seeds).toEqual([0, 1, 2]);
  });

  it('expands lists inside sequential parts and milestones given as a list of lists', () => {
    const r = expand({
      ...base,
      grid: {
        baseLr: [0.001],
        seeds: 1,
        schedule: [
          {
            kind: 'sequential',
            milestones: [[50], [100]],
            parts: [
              { kind: 'linear', startFactor: [0.1, 0.5], endFactor: 1 },
              { kind: 'cosine', minFactor: [0, 0.1] },
            ],
          },
          { kind: 'multistep', milestones: [[100, 200], [150]], gamma: [0.1, 0.5] },
          { kind: 'cyclic', minFactor: 0.1, stepSizeUp: 20, mode: ['triangular', 'triangular2'] },
        ],
      },
    });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.plan.configs).toHaveLength(2 * 2 * 2 + 2 * 2 + 2);
    const seqs = r.plan.configs.map((c) => c.schedule).filter((s) => s.kind === 'sequential');
    expect(new Set(seqs.map((s) => JSON.stringify(s))).size).toBe(8);
  });

  it('treats warmup {steps: 0} as no warmup: the two are the same schedule', () => {
    const r = expand({
      ...base,
      grid: { ...base.grid, schedule: [{ kind: 'cosine' }, { kind: 'cosine', warmup: { steps: 0 } }] },
    });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues).toEqual([
      { path: 'grid.schedule[1]', message: 'repeats a schedule of grid.schedule[0]' },
    ]);
  });

  it('gives each trial an identity from its sweep and canonical config', () => {
    const r = expand(base);
    if (!r.ok) throw new Error('invalid');
    const a = planTrials(r.plan, 'sweep-a');
    const again = planTrials(r.plan, 'sweep-a');
    const b = planTrials(r.plan, 'sweep-b');
    expect(new Set(a.map((t) => t.identity)).size).toBe(24);
    expect(again.map((t) => t.identity)).toEqual(a.map((t) => t.identity));
    expect(b.map((t) => t.identity).some((id) => a.some((t) => t.identity === id))).toBe(false);
    // Defaults filled in and key order do not change the identity.
    const s1 = { kind: 'cosine' as const, minFactor: 0, steps: undefined };
    const s2 = { minFactor: 0, kind: 'cosine' as const };
    expect(trialIdentity('s', 0.1, s1, 0)).toBe(trialIdentity('s', 0.1, s2, 0));
  });

  it("fills a plateau schedule's metric and mode from the objective", () => {
    const r = expand({
      ...base,
      objective: { metric: 'val_acc' },
      grid: {
        baseLr: [0.001],
        seeds: 1,
        schedule: [{ kind: 'reduce_on_plateau' }, { kind: 'reduce_on_plateau', metric: 'val_loss' }],
      },
    });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.plan.configs.map((c) => c.schedule)).toMatchObject([
      { metric: 'val_acc', mode: 'max' },
      { metric: 'val_loss', mode: 'min' },
    ]);
  });

  it('refuses a grid over the limit before building it', () => {
    const huge = {
      kind: 'cosine',
      minFactor: Array.from({ length: 1000 }, (_, i) => i / 1000),
      steps: Array.from({ length: 1000 }, (_, i) => i + 1),
    };
    const r = expand({ ...base, grid: { ...base.grid, schedule: [huge] } });
    expect(!r.ok && r.issues).toEqual([
      { path: 'grid', message: 'the grid makes 6000000 trials, more than the limit of 10000' },
    ]);
  });

  it('names every problem of an expanded schedule with its grid path', () => {
    const r = expand({ ...base, grid: { ...base.grid, schedule: [{ kind: 'step', stepSize: [10, 0], gamma: 2 }] } });
    expect(!r.ok && r.issues.map((i) => i.path).sort()).toEqual([
      'grid.schedule[0].gamma',
      'grid.schedule[0].stepSize',
    ]);
  });
});

describe('v1 identities (SWEEP_API.md v1.1: unchanged for v1 specs)', () => {
  it('gives a v1 spec the trial identities and configuration ids the v1 code gave it', async () => {
    // Written by the code before v1.1 (commit 4771e4d) for this spec and sweep id.
    const { default: v1 } = await import('./fixtures/v1-identities.json', { with: { type: 'json' } });
    const r = expand({
      name: 'v1',
      dataset: { name: 'mnist', trainSize: 8000, testSize: 2000 },
      training: { epochs: 3, batchSize: 64, evalEvery: 50 },
      grid: {
        baseLr: [0.001, 0.003],
        schedule: [
          { kind: 'constant' },
          { kind: 'cosine', warmup: { steps: [0, 100] } },
          { kind: 'reduce_on_plateau', patience: 2 },
        ],
        seeds: [0, 1],
      },
    });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    const now = planTrials(r.plan, '00000000-0000-4000-8000-000000000001').map((t) => [t.identity, t.configId]);
    expect(now).toEqual(v1);
    expect(now).toHaveLength(16);
  });
});

describe('lengths in fractions and epochs (SCHEDULES.md v1.1)', () => {
  const withSchedules = (schedule: unknown[]) =>
    ({ ...base, grid: { ...base.grid, baseLr: [0.001], seeds: 1, schedule } }) as SweepSpecInput;
  it('resolves them at expansion: trials record steps, and a fraction and its steps are the same schedule', () => {
    // T = 3 epochs × 113 updates = 339; S = 113.
    const r = expand(
      withSchedules([
        { kind: 'cosine', warmup: { steps: { fraction: 0.1 } } },
        { kind: 'step', stepSize: { epochs: 1 } },
      ]),
    );
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    const trials = planTrials(r.plan, 's1');
    expect(trials.map((t) => t.config.schedule)).toEqual([
      { kind: 'cosine', minFactor: 0, warmup: { steps: 34, startFactor: 0 } },
      { kind: 'step', stepSize: 113, gamma: 0.1 },
    ]);
    const twice = expand(
      withSchedules([
        { kind: 'cosine', warmup: { steps: { fraction: 0.1 } } },
        { kind: 'cosine', warmup: { steps: 34 } },
      ]),
    );
    expect(!twice.ok && twice.issues).toEqual([
      { path: 'grid.schedule[1]', message: 'repeats a schedule of grid.schedule[0]' },
    ]);
  });
  it('expands a list of length objects like any list', () => {
    const r = expand(
      withSchedules([{ kind: 'cosine', warmup: { steps: [{ fraction: 0.05 }, { fraction: 0.1 }, { epochs: 1 }] } }]),
    );
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.plan.configs.map((c) => c.schedule.warmup!.steps)).toEqual([17, 34, 113]);
  });
});
