// grid.scale: each multiplier widens the built-in model of its configuration's trials, and only
// sweeps that have the axis get `values.scale` in their identities.
import { sweepSpecSchema } from '@lrsweep/contract';
import { describe, expect, it } from 'vitest';
import { expandSweep, planTrials, trialIdentity } from './expand-sweep';
import { scaleModel } from './model-scale';

const spec = (extra: object) =>
  sweepSpecSchema.parse({
    name: 's',
    dataset: { name: 'mnist', trainSize: 600, testSize: 100 },
    training: { epochs: 1, batchSize: 50, evalEvery: 4 },
    grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], seeds: 1 },
    ...extra,
  });

describe('scaleModel', () => {
  it('widens mlp hidden sizes and cnn channels, rounding, never below 1', () => {
    expect(scaleModel({ kind: 'mlp', hidden: [128, 64], activation: 'relu' }, 2.5)).toMatchObject({
      hidden: [320, 160],
    });
    expect(scaleModel({ kind: 'mlp', hidden: [3], activation: 'relu' }, 0.1)).toMatchObject({ hidden: [1] });
    expect(scaleModel({ kind: 'cnn', channels: [32, 64], batchNorm: false }, 0.5)).toMatchObject({
      channels: [16, 32],
    });
  });

  it('grows a transformer’s heads up to 16, then its head size; the width stays a multiple of the heads', () => {
    const vit = { kind: 'vit' as const, patchSize: 4, width: 64, depth: 2, heads: 4, mlpRatio: 2 };
    expect(scaleModel(vit, 2)).toMatchObject({ width: 128, heads: 8, depth: 2 });
    expect(scaleModel(vit, 4)).toMatchObject({ width: 256, heads: 16 });
    expect(scaleModel(vit, 16)).toMatchObject({ width: 1024, heads: 16 });
    expect(scaleModel(vit, 0.5)).toMatchObject({ width: 32, heads: 2 });
    for (const s of [0.3, 1.7, 3, 7.5]) {
      const m = scaleModel(vit, s) as typeof vit;
      expect(m.width % m.heads, String(s)).toBe(0);
    }
    const gpt = { kind: 'gpt' as const, width: 48, depth: 2, heads: 3, mlpRatio: 4 };
    expect(scaleModel(gpt, 2)).toMatchObject({ width: 96, heads: 6 });
  });
});

describe('expandSweep and planTrials with grid.scale', () => {
  it('makes a configuration per multiplier, and each trial trains its widened model', () => {
    const s = spec({
      model: { kind: 'mlp', hidden: [32] },
      grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], scale: [0.5, 1, 4] },
    });
    const r = expandSweep(s, { maxTrials: 100 });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.plan.configs.map((c) => c.values)).toEqual([{ scale: 0.5 }, { scale: 1 }, { scale: 4 }]);
    const trials = planTrials(r.plan, 'sweep');
    expect(trials.map((t) => (t.config.model as { hidden: number[] }).hidden)).toEqual([[16], [32], [128]]);
    expect(new Set(trials.map((t) => t.identity)).size).toBe(3);
  });

  it('leaves the identities of sweeps without the axis as they were', () => {
    const r = expandSweep(spec({}), { maxTrials: 100 });
    if (!r.ok) throw new Error('invalid');
    const [t] = planTrials(r.plan, 'sweep');
    expect(t!.identity).toBe(trialIdentity('sweep', 0.01, { kind: 'constant' }, 0));
    expect(t!.config.values).toBeUndefined();
  });

  it('refuses a model without a width to scale, naming grid.scale', () => {
    const r = expandSweep(
      spec({ model: { kind: 'lenet' }, grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], scale: [1, 2] } }),
      {
        maxTrials: 100,
      },
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toContainEqual({
      path: 'grid.scale',
      message: 'a lenet model has no width to scale (mlp, cnn, vit and gpt do)',
    });
  });
});

describe('μP on the scale axis (model.parametrization)', () => {
  it('gives each trial its width multiplier over transfer.baseWidth; standard models get none', () => {
    const s = spec({
      model: { kind: 'mlp', hidden: [32], parametrization: 'mup' },
      grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], scale: [1, 2, 8] },
      transfer: { width: { from: 'grid.scale' }, baseWidth: 2 },
    });
    const r = expandSweep(s, { maxTrials: 100 });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    const models = planTrials(r.plan, 'sweep').map((t) => t.config.model);
    expect(models).toEqual([1, 2, 8].map((k) => expect.objectContaining({ hidden: [32 * k], widthMultiplier: k / 2 })));
    expect(scaleModel({ kind: 'mlp', hidden: [32], activation: 'relu' }, 2)).not.toHaveProperty('widthMultiplier');
  });

  const refused = (extra: object) => {
    const r = sweepSpecSchema.safeParse({
      name: 's',
      dataset: { name: 'mnist' },
      grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }] },
      ...extra,
    });
    expect(r.success).toBe(false);
    return r.error!.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  };
  it('refuses what μP cannot do or what contradicts it, naming the field', () => {
    expect(
      refused({ model: { kind: 'mlp', parametrization: 'mup' }, optimizer: { kind: 'schedule_free_adamw' } }),
    ).toContainEqual({ path: 'optimizer.kind', message: expect.stringMatching(/schedule-free AdamW/) });
    expect(refused({ model: { kind: 'mlp', widthMultiplier: 4 } })).toContainEqual({
      path: 'model.widthMultiplier',
      message: expect.stringMatching(/needs model.parametrization 'mup'/),
    });
    expect(
      refused({
        model: { kind: 'mlp', parametrization: 'mup', widthMultiplier: 4 },
        grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], scale: [1, 2] },
      }),
    ).toContainEqual({ path: 'model.widthMultiplier', message: expect.stringMatching(/grid.scale sets/) });
    expect(
      refused({
        model: { kind: 'mlp' },
        grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], scale: [1, 2] },
        transfer: { width: { from: 'grid.scale' }, parametrization: 'mup' },
      }),
    ).toContainEqual({
      path: 'transfer.parametrization',
      message: expect.stringMatching(/only with model.parametrization/),
    });
    expect(refused({ model: { kind: 'lenet', parametrization: 'mup' } })[0]!.path).toBe('model');
  });
});
