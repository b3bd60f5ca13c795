import { lrSequence } from '@lrsweep/schedules';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  liveTensorCount,
  loadDataset,
  selectBackend,
  synthetic,
  type TrainConfig,
  train,
  type UpdateRecord,
} from './index';

const data = synthetic({ trainSize: 512, testSize: 256 });
const config = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  model: { kind: 'mlp', hidden: [32], activation: 'relu' },
  optimizer: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
  training: { epochs: 2, batchSize: 32, evalEvery: 8 },
  baseLr: 0.01,
  schedule: { kind: 'cosine', minFactor: 0 },
  seed: 3,
  ...over,
});
const run = (c: TrainConfig) => {
  const updates: UpdateRecord[] = [];
  const evals: number[] = [];
  const result = train(c, data, { onUpdate: (u) => updates.push(u), onEval: (e) => evals.push(e.step) });
  return { result, updates, evals };
};

beforeAll(async () => {
  expect((await selectBackend('wasm')).name).toBe('wasm');
});

describe('train (wasm)', () => {
  it('learns: the loss falls and held-out accuracy beats chance', () => {
    const { result, updates } = run(config());
    const first = updates.slice(0, 4).reduce((a, u) => a + u.trainLoss, 0) / 4;
    const last = updates.slice(-4).reduce((a, u) => a + u.trainLoss, 0) / 4;
    expect(last).toBeLessThan(first * 0.5);
    expect(result.status).toBe('completed');
    expect(result.finalMetrics.val_acc!).toBeGreaterThan(0.5);
  });

  it('applies the schedule to every update and evaluates every evalEvery updates and after the last', () => {
    const { updates, evals, result } = run(
      config({ schedule: { kind: 'linear', warmup: { steps: 5, startFactor: 0 } } }),
    );
    expect(result.totalSteps).toBe(32);
    expect(updates.map((u) => u.step)).toEqual([...Array(32).keys()]);
    expect(updates.map((u) => u.lr)).toEqual(
      lrSequence({ kind: 'linear', warmup: { steps: 5 } }, { baseLr: 0.01, totalSteps: 32 }),
    );
    expect(evals).toEqual([8, 16, 24, 32]);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = run(config({ optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 } })).updates.map(
      (u) => u.trainLoss,
    );
    const b = run(config({ optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 } })).updates.map(
      (u) => u.trainLoss,
    );
    const c = run(
      config({ optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 }, seed: 4 }),
    ).updates.map((u) => u.trainLoss);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('is deterministic for a ViT with Adam too (attention, splits, bias sums and Adam run in the SIMD kernels)', () => {
    const vit = config({
      model: { kind: 'vit', patchSize: 2, width: 16, depth: 1, heads: 2, mlpRatio: 2 },
      training: { epochs: 1, batchSize: 32, evalEvery: 8 },
    });
    const a = run(vit).updates.map((u) => u.trainLoss);
    const b = run(vit).updates.map((u) => u.trainLoss);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(b).toEqual(a);
    expect(run({ ...vit, seed: 9 }).updates.map((u) => u.trainLoss)).not.toEqual(a);
  });

  it('stops as diverged at the first non-finite or exploding loss', () => {
    const { result, updates } = run(
      config({
        optimizer: { kind: 'sgd', momentum: 0, nesterov: false, weightDecay: 0 },
        baseLr: 500,
        schedule: { kind: 'constant' },
        divergenceFactor: 10,
      }),
    );
    expect(result.status).toBe('diverged');
    const first = updates[0]!.trainLoss;
    const expected = updates.findIndex((u) => !Number.isFinite(u.trainLoss) || u.trainLoss > 10 * first);
    expect(expected).toBeGreaterThan(0);
    expect(result.divergedAtStep).toBe(expected);
    expect(updates).toHaveLength(expected + 1);
  });

  it.each([
    [
      'mlp + adam',
      { kind: 'mlp', hidden: [32], activation: 'gelu' },
      { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
    ],
    [
      'cnn + batch norm + sgd',
      { kind: 'cnn', channels: [4, 8], batchNorm: true },
      { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0 },
    ],
    [
      'lenet + adamw',
      { kind: 'lenet', activation: 'sigmoid' },
      { kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 },
    ],
    [
      'vit + schedule-free adamw',
      { kind: 'vit', patchSize: 2, width: 16, depth: 1, heads: 2, mlpRatio: 2 },
      { kind: 'schedule_free_adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
    ],
  ] as [string, TrainConfig['model'], TrainConfig['optimizer']][])(
    'no tensor survives an update over 50 updates (%s)',
    (_n, model, optimizer) => {
      // LeNet needs 28×28 images (the MNIST package's); the rest train on the 8×8 synthetic set.
      const images = (model.kind === 'lenet' ? loadDataset : synthetic)({
        name: 'mnist',
        trainSize: 50 * 16,
        testSize: 32,
      });
      const before = liveTensorCount();
      const counts: number[] = [];
      const r = train(
        { ...config({ model, optimizer }), training: { epochs: 1, batchSize: 16, evalEvery: 10 } },
        images,
        { onUpdate: () => counts.push(liveTensorCount()) },
      );
      expect(r.stepsDone).toBe(50);
      expect(new Set(counts).size).toBe(1); // the same tensors (weights, optimizer state) after every update
      expect(liveTensorCount()).toBe(before);
    },
  );

  it("counts the time spent in the caller's callbacks and checkpoints as host time", () => {
    const busy = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    const hostTime = { ms: 0 };
    let checkpoints = 0;
    const t0 = performance.now();
    train(
      config(),
      data,
      { onUpdate: () => busy(2), onEval: () => busy(5), onCheckpoint: () => (checkpoints++, busy(5)) },
      { checkpointEvery: 8, hostTime },
    );
    const total = performance.now() - t0;
    expect(checkpoints).toBe(3); // after updates 8, 16 and 24 (not after the last)
    expect(hostTime.ms).toBeGreaterThanOrEqual(32 * 2 + 4 * 5 + 3 * 5);
    expect(hostTime.ms).toBeLessThan(total);
  });

  it('leaves no tensor behind', () => {
    run(config());
    const before = liveTensorCount();
    for (let i = 0; i < 3; i++) run(config({ seed: i }));
    expect(liveTensorCount()).toBe(before);
  });
});

describe('datasets', () => {
  it('reads the real MNIST digits of the mnist package, split disjointly and reproducibly', () => {
    const a = loadDataset({ name: 'mnist', trainSize: 9000, testSize: 1000 });
    expect(a.inputDim).toBe(784);
    expect(a.trainY).toHaveLength(9000);
    expect(a.testY).toHaveLength(1000);
    const pixels = a.trainX.subarray(0, 784 * 100);
    expect(Math.min(...pixels)).toBe(0);
    expect(Math.max(...pixels)).toBeLessThanOrEqual(1);
    expect(new Set(a.trainY).size).toBe(10);
    // The same request reads the same data; a smaller split is a prefix of the same permutation.
    expect(loadDataset({ name: 'mnist', trainSize: 9000, testSize: 1000 }).checksum).toBe(a.checksum);
    const rows = new Set<string>();
    for (let i = 0; i < 1000; i++) rows.add(a.testX.subarray(i * 784, (i + 1) * 784).join(','));
    let shared = 0;
    for (let i = 0; i < 9000; i++) if (rows.has(a.trainX.subarray(i * 784, (i + 1) * 784).join(','))) shared++;
    // MNIST holds a few exact duplicate images; the split itself shares no sample.
    expect(shared).toBeLessThan(10);
  });

  it('refuses more samples than MNIST has', () => {
    expect(() => loadDataset({ name: 'mnist', trainSize: 9500, testSize: 1000 })).toThrow(/10000 samples/);
  });
});

describe('checkpoints', () => {
  it('a run resumed from any checkpoint continues exactly as the uninterrupted run', () => {
    for (const optimizer of [
      { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
      { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 },
    ] as const) {
      const c = config({
        optimizer,
        training: { epochs: 3, batchSize: 32, evalEvery: 6 },
        schedule: { kind: 'reduce_on_plateau', factor: 0.5, patience: 0 },
      });
      const full = run(c);
      const states: import('./train').TrainerState[] = [];
      train(c, data, { onCheckpoint: (s) => states.push(s) }, { checkpointEvery: 8 });
      // 16 updates an epoch: checkpoints at 8, 16 (an epoch boundary), 24, 32 (another), 40.
      expect(states.map((s) => s.step)).toEqual([8, 16, 24, 32, 40]);
      expect(states[1]).toMatchObject({ epoch: 1, batchStart: 0 });
      for (const state of states) {
        const updates: UpdateRecord[] = [];
        const result = train(c, data, { onUpdate: (u) => updates.push(u) }, { resume: state });
        expect(updates.map((u) => u.step)[0]).toBe(state.step);
        expect(updates).toEqual(full.updates.slice(state.step));
        expect(result).toEqual(full.result);
      }
    }
  });

  it('a stop hands over a checkpoint to resume from', () => {
    const c = config();
    const full = run(c);
    let state: import('./train').TrainerState | undefined;
    let n = 0;
    const stopped = train(c, data, { shouldStop: () => ++n >= 11, onCheckpoint: (s) => (state = s) });
    expect(stopped).toMatchObject({ status: 'stopped', stepsDone: 11 });
    expect(state?.step).toBe(11);
    expect(train(c, data, {}, { resume: state })).toEqual(full.result);
  });
});
