// testkit's tinySpec: a valid sweep of one 4-update trial, and its merge rules, so the tests that
// build on it get exactly the spec they state.
import { sweepSpecSchema } from '@lrsweep/contract';
import { expandSweep } from '@lrsweep/sweep';
import { tinySpec } from '@lrsweep/testkit';
import { describe, expect, it } from 'vitest';

const expand = (spec: unknown) => {
  const parsed = sweepSpecSchema.safeParse(spec);
  if (!parsed.success) throw new Error(parsed.error.message);
  const r = expandSweep(parsed.data, { maxTrials: 1000 });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.plan;
};

describe('tinySpec', () => {
  it('is a valid sweep of one trial of 4 updates (200 digits, batch 50, one epoch)', () => {
    const plan = expand(tinySpec());
    expect(plan.trialCount).toBe(1);
    expect(plan.totalSteps).toBe(4);
  });

  it('merges dataset, training and grid key by key; replaces a model that names its kind', () => {
    const s = tinySpec({
      name: 'x',
      dataset: { trainSize: 300, testSize: 64 },
      model: { kind: 'mlp', hidden: [8] },
      training: { evalEvery: 1 },
      grid: { baseLr: [0.01, 0.1], seeds: 2 },
      objective: { metric: 'val_acc', mode: 'max', aggregate: 'final' },
    });
    expect(s).toEqual({
      name: 'x',
      dataset: { name: 'mnist', trainSize: 300, testSize: 64 },
      model: { kind: 'mlp', hidden: [8] },
      training: { epochs: 1, batchSize: 50, evalEvery: 1 },
      grid: { baseLr: [0.01, 0.1], schedule: [{ kind: 'constant' }], seeds: 2 },
      objective: { metric: 'val_acc', mode: 'max', aggregate: 'final' },
    });
    expect(expand(s).trialCount).toBe(4);
  });

  it('a training.totalSteps drops the default epochs; a dataset of another name replaces MNIST whole', () => {
    const s = tinySpec({ training: { totalSteps: 10 }, dataset: { name: 'synthetic', trainSize: 100, testSize: 20 } });
    expect(s.training).toEqual({ batchSize: 50, evalEvery: 2, totalSteps: 10 });
    expect(s.dataset).toEqual({ name: 'synthetic', trainSize: 100, testSize: 20 });
    expect(tinySpec({ model: { hidden: [4] } }).model).toEqual({ kind: 'mlp', hidden: [4] });
  });
});
