// The memory estimate a worker checks before training (estimateTrialMemory): its parameter
// count is the built model's, for every built-in kind, and its scale catches what the issue saw
// run a host out of memory.
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel, estimateTrialMemory, type ModelSpec, mib, selectBackend } from './index';
import { createRng } from './rng';

const image = (h: number, w: number, c: number, classes = 10) => ({
  task: 'classification',
  shape: [h, w, c],
  inputDim: h * w * c,
  numClasses: classes,
  targetDim: 1,
});
const adam = { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } as const;

beforeAll(async () => {
  expect((await selectBackend('wasm')).name).toBe('wasm');
});

describe('estimateTrialMemory', () => {
  const cases: [string, ModelSpec, ReturnType<typeof image>][] = [
    ['mlp', { kind: 'mlp', hidden: [256, 64], activation: 'relu' }, image(28, 28, 1)],
    ['lenet', { kind: 'lenet', activation: 'relu' }, image(28, 28, 1)],
    ['cnn', { kind: 'cnn', channels: [16, 32], batchNorm: false }, image(32, 32, 3)],
    ['cnn + batch norm', { kind: 'cnn', channels: [8, 16], batchNorm: true }, image(32, 32, 3)],
    ['vit', { kind: 'vit', patchSize: 4, width: 32, depth: 2, heads: 4, mlpRatio: 2 }, image(28, 28, 1)],
    [
      'gpt',
      { kind: 'gpt', width: 32, depth: 2, heads: 4, mlpRatio: 4, contextLength: 16 },
      { task: 'lm', shape: [16], inputDim: 16, numClasses: 256, targetDim: 16 },
    ],
  ];
  for (const [name, spec, data] of cases) {
    it(`counts the ${name}'s parameters as the built model has them`, () => {
      const m = createModel(spec, data as never, createRng(0));
      const built = m.variables.reduce((n, v) => n + v.size, 0);
      m.dispose();
      const est = estimateTrialMemory(spec, data, 32, adam)!;
      expect(est.params).toBe(built);
      // Weights, gradients and Adam's two moments: four floats a parameter.
      expect(est.paramBytes).toBe(built * 4 * 4);
      expect(est.activationBytes).toBeGreaterThan(0);
    });
  }

  it('grows with the batch and the optimizer state, and says nothing of a Layers model', () => {
    const spec: ModelSpec = { kind: 'mlp', hidden: [128], activation: 'relu' };
    const a = estimateTrialMemory(spec, image(28, 28, 1), 64, adam)!;
    const b = estimateTrialMemory(spec, image(28, 28, 1), 128, adam)!;
    expect(b.activationBytes).toBe(2 * a.activationBytes);
    const sgd = estimateTrialMemory(spec, image(28, 28, 1), 64, {
      kind: 'sgd',
      momentum: 0,
      nesterov: false,
      weightDecay: 0,
    })!;
    expect(sgd.paramBytes).toBe(a.paramBytes / 2);
    expect(
      estimateTrialMemory({ kind: 'layers', path: 'm/model.json' } as ModelSpec, image(28, 28, 1), 64, adam),
    ).toBeNull();
  });

  it("puts the spec that took 12 GiB and a 24 GiB host's memory far over any slot, and a demo trial far under", () => {
    const big = estimateTrialMemory({ kind: 'cnn', channels: [512], batchNorm: false }, image(32, 32, 3), 8192, adam)!;
    expect(mib(big.totalBytes)).toBeGreaterThan(24 * 1024);
    const demo = estimateTrialMemory({ kind: 'mlp', hidden: [128], activation: 'relu' }, image(28, 28, 1), 64, adam)!;
    expect(mib(demo.totalBytes)).toBeLessThan(16);
  });
});
