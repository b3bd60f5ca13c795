// The native backend (tfjs-node, built by `pnpm setup:tensorflow` from TF 2.21's C API) against
// wasm, on tiny shapes: the same losses over 20 updates from the same seed for every model kind ×
// optimizer (SWA, clipping and schedule-free included), the same gradients, checkpoints that move
// between backends, no tensor leaks, flat memory over 100 trials, divergence caught alike, and the
// int32 ops the trainer uses (TF 2.21 returns zeros for `round` on int32: the trainer never calls it).
//
// Tolerance: float32 throughout, but XNNPACK (wasm) and Eigen (TF) sum in different orders, so each
// op differs in its last bits (~1e-7 relative) and 20 updates of training amplify that. Measured
// worst drift is ~2e-7 relative (cnn + Adam, 20 updates); we allow 2e-3 relative + 1e-5 absolute, far above the
// drift, and two below the differences a schedule or LR makes to a loss.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { nativeBackendTests } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createBackendChooser,
  liveTensorCount,
  loadDataset,
  selectBackend,
  synthetic,
  type TrainConfig,
  type TrainerState,
  train,
  type UpdateRecord,
} from './index';

/** Whether the native backend loads here; why not, printed, when it does not. */
const native = await selectBackend('tensorflow').then(
  () => null,
  (err: Error) => err.message,
);
if (native)
  console.warn(
    `[lrsweep] backend parity did not run: the native backend does not load here (${native}). Run \`pnpm setup:tensorflow\` to build it.`,
  );
await selectBackend('wasm');

const rtol = 2e-3;
const atol = 1e-5;
const close = (a: number, b: number) => Math.abs(a - b) <= atol + rtol * Math.abs(b);
const worst = (a: number[], b: number[]) =>
  Math.max(...a.map((x, i) => Math.abs(x - b[i]!) / Math.max(Math.abs(b[i]!), 1e-12)));

const adam = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
const models: [string, TrainConfig['model']][] = [
  ['mlp', { kind: 'mlp', hidden: [32], activation: 'gelu' }],
  ['lenet', { kind: 'lenet', activation: 'sigmoid', pool: 'max' }],
  ['cnn', { kind: 'cnn', channels: [4, 8], batchNorm: true }],
  ['vit', { kind: 'vit', patchSize: 2, width: 16, depth: 1, heads: 2, mlpRatio: 2 }],
];
const optimizers: [string, TrainConfig['optimizer']][] = [
  ['sgd', { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 }],
  ['adam', { kind: 'adam', ...adam, weightDecay: 0 }],
  ['adamw', { kind: 'adamw', ...adam, weightDecay: 0.01 }],
  ['schedule_free_adamw', { kind: 'schedule_free_adamw', ...adam, weightDecay: 0 }],
];
const datasets = {
  small: synthetic({ trainSize: 20 * 16, testSize: 64 }),
  // LeNet needs 28×28 digits.
  digits: loadDataset({ name: 'mnist', trainSize: 20 * 16, testSize: 64 }),
};
const config = (
  model: TrainConfig['model'],
  optimizer: TrainConfig['optimizer'],
  over: Partial<TrainConfig> = {},
): TrainConfig => ({
  model,
  optimizer,
  training: { epochs: 1, batchSize: 16, evalEvery: 10 },
  baseLr: optimizer.kind === 'sgd' ? 0.05 : 0.003,
  schedule: { kind: 'cosine', minFactor: 0, warmup: { steps: 3, startFactor: 0.1 } },
  seed: 7,
  ...over,
});

async function on(backend: 'tensorflow' | 'wasm', c: TrainConfig, opts: Parameters<typeof train>[3] = {}) {
  await selectBackend(backend);
  const updates: UpdateRecord[] = [];
  const checkpoints: TrainerState[] = [];
  const before = liveTensorCount();
  const result = train(
    c,
    c.model.kind === 'lenet' ? datasets.digits : datasets.small,
    { onUpdate: (u) => updates.push(u), onCheckpoint: (s) => checkpoints.push(s) },
    opts,
  );
  return { result, losses: updates.map((u) => u.trainLoss), checkpoints, leaked: liveTensorCount() - before };
}

afterAll(async () => {
  await selectBackend('wasm');
});

// Skipped (with the reason above) where the backend does not load; in CI a failure.
const nativeTests = nativeBackendTests(native);

describe.skipIf(nativeTests.skip)('the native backend against wasm', () => {
  beforeAll(() => nativeTests.assert());
  it.each(
    models.flatMap(([m, model]) => optimizers.map(([o, optimizer]) => [`${m} + ${o}`, model, optimizer] as const)),
  )('%s: the same losses over 20 updates, and evaluations alike', async (_name, model, optimizer) => {
    const c = config(model, optimizer);
    const a = await on('tensorflow', c);
    const b = await on('wasm', c);
    expect(a.losses).toHaveLength(20);
    expect(a.losses.every(Number.isFinite)).toBe(true);
    expect(
      a.losses.every((x, i) => close(x, b.losses[i]!)),
      `worst relative difference ${worst(a.losses, b.losses)}`,
    ).toBe(true);
    expect(close(a.result.finalValLoss!, b.result.finalValLoss!)).toBe(true);
    // No tensor outlives the trial on either backend.
    expect(a.leaked).toBe(0);
    expect(b.leaked).toBe(0);
  });

  it('with SWA and gradient clipping too', async () => {
    const c = config(models[0]![1], optimizers[1]![1], {
      training: { epochs: 1, batchSize: 16, evalEvery: 10, swaFraction: 0.5, gradClipNorm: 0.5 },
    });
    const a = await on('tensorflow', c);
    const b = await on('wasm', c);
    expect(
      a.losses.every((x, i) => close(x, b.losses[i]!)),
      `worst ${worst(a.losses, b.losses)}`,
    ).toBe(true);
    expect(close(a.result.finalValLoss!, b.result.finalValLoss!)).toBe(true);
  });

  it('computes the same gradients (matMul, conv2d, both of its gradients)', async () => {
    const grads = async (backend: 'tensorflow' | 'wasm') => {
      await selectBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(
          Array.from({ length: 2 * 6 * 6 * 3 }, (_, i) => Math.sin(i)),
          [2, 6, 6, 3],
        );
        const w = tf.tensor4d(
          Array.from({ length: 3 * 3 * 3 * 4 }, (_, i) => Math.cos(i) / 3),
          [3, 3, 3, 4],
        );
        const m = tf.tensor2d(
          Array.from({ length: 4 * 5 }, (_, i) => (i % 7) / 7 - 0.5),
          [4, 5],
        );
        const f = (xx: tf.Tensor, ww: tf.Tensor, mm: tf.Tensor) =>
          tf.sum(
            tf.square(
              tf.matMul(
                tf.mean(tf.relu(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same')), [1, 2]) as tf.Tensor2D,
                mm as tf.Tensor2D,
              ),
            ),
          );
        return tf
          .grads(f)([x, w, m])
          .map((g) => [...g.dataSync()]);
      });
    };
    const a = await grads('tensorflow');
    const b = await grads('wasm');
    for (let i = 0; i < a.length; i++)
      expect(
        a[i]!.every((v, j) => close(v, b[i]![j]!)),
        `gradient ${i}: worst ${worst(a[i]!, b[i]!)}`,
      ).toBe(true);
  });

  it('resumes on one backend from a checkpoint written on the other (a fleet mixes CPU and GPU workers)', async () => {
    const c = config(models[2]![1], optimizers[1]![1]);
    for (const [first, second] of [
      ['tensorflow', 'wasm'],
      ['wasm', 'tensorflow'],
    ] as const) {
      const whole = await on(second, c);
      const part = await on(first, c, { checkpointEvery: 10 });
      const resumed = await on(second, c, { resume: part.checkpoints[0]! });
      expect(part.checkpoints[0]!.step).toBe(10);
      expect(resumed.losses).toHaveLength(10);
      expect(
        resumed.losses.every((x, i) => close(x, whole.losses[10 + i]!)),
        `${first} → ${second}: worst ${worst(resumed.losses, whole.losses.slice(10))}`,
      ).toBe(true);
    }
  });

  it('catches divergence at the same update', async () => {
    const c = config(
      models[0]![1],
      { kind: 'sgd', momentum: 0, nesterov: false, weightDecay: 0 },
      { baseLr: 500, schedule: { kind: 'constant' }, divergenceFactor: 10 },
    );
    const a = await on('tensorflow', c);
    const b = await on('wasm', c);
    expect(a.result.status).toBe('diverged');
    expect(a.result.divergedAtStep).toBe(b.result.divergedAtStep);
  });

  it('keeps tensors and memory flat over 100 MLP trials', async () => {
    const c = config(models[0]![1], optimizers[1]![1], { training: { epochs: 1, batchSize: 64, evalEvery: 5 } });
    await selectBackend('tensorflow');
    const rss: number[] = [];
    const tensors = liveTensorCount();
    for (let i = 0; i < 100; i++) {
      train({ ...c, seed: i }, datasets.small);
      if (i % 10 === 9) rss.push(process.memoryUsage().rss / 2 ** 20);
    }
    expect(liveTensorCount()).toBe(tensors);
    // After a warm-up, the resident set does not grow with the trial count (allocator noise aside).
    expect(rss.at(-1)! - rss[1]!, `RSS MB per 10 trials: ${rss.map((r) => r.toFixed(0)).join(' ')}`).toBeLessThan(60);
  });

  it('gives the int32 ops the trainer uses the same answers; round (wrong on int32 in TF 2.21) is not one of them', async () => {
    const ops = async (backend: 'tensorflow' | 'wasm') => {
      await selectBackend(backend);
      return tf.tidy(() => {
        const i = tf.tensor1d([3, -1, 7, 0, 2, 2], 'int32');
        const l = tf.tensor2d([0.1, 0.9, 0.5, 0.2, 0.7, 0.1], [3, 2]);
        return [
          tf.argMax(l, 1),
          tf.equal(i, tf.tensor1d([3, 1, 7, 1, 2, 0], 'int32')),
          tf.sum(tf.cast(tf.greater(i, 1), 'int32')),
          tf.oneHot(tf.tensor1d([0, 2, 1], 'int32'), 3),
          tf.gather(l, tf.tensor1d([2, 0], 'int32')),
          tf.cast(i, 'float32'),
        ].map((t) => [...t.dataSync()]);
      });
    };
    expect(await ops('tensorflow')).toEqual(await ops('wasm'));
    // The deviation itself (documented by TF.js's own suite against TF 2.21), and the trainer's sources never round.
    await selectBackend('tensorflow');
    const rounded = tf.tidy(() => [...tf.round(tf.tensor1d([3, 5], 'int32')).dataSync()]);
    await selectBackend('wasm');
    expect(rounded.length).toBe(2);
    const src = readdirSync(import.meta.dirname).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    for (const f of src) expect(readFileSync(join(import.meta.dirname, f), 'utf8'), f).not.toMatch(/\btf\.round\(/);
  });

  it('chooses a backend per trial: the spec first, then LRSWEEP_BACKEND, then a probe per model shape', async () => {
    const initial = await selectBackend('tensorflow');
    const c = config(models[0]![1], optimizers[1]![1]);
    const logged: object[] = [];
    const auto = createBackendChooser({ pref: 'auto', initial, log: (_m, f) => logged.push(f) });
    expect((await auto(c, datasets.small, 'wasm')).choice.name).toBe('wasm');
    expect((await auto(c, datasets.small, 'tensorflow')).choice.name).toBe('tensorflow');
    const probed = await auto(c, datasets.small);
    const times = probed.probe!;
    expect(Object.keys(times).sort()).toEqual(['tensorflow', 'wasm']);
    // The faster of the two by its own measurement, which is the backend left active.
    expect(probed.choice.name).toBe(times.tensorflow! < times.wasm! ? 'tensorflow' : 'wasm');
    expect(tf.getBackend()).toBe(probed.choice.name);
    expect(probed.reason).toMatch(/^probe \(mlp, batch 16\): tensorflow [\d.]+ ms\/update, wasm [\d.]+ ms\/update$/);
    // Once per shape: the same shape again is not probed again; another shape is.
    expect((await auto(c, datasets.small)).probe).toEqual(times);
    expect(logged).toHaveLength(1);
    await auto(config(models[2]![1], optimizers[1]![1]), datasets.small);
    expect(logged).toHaveLength(2);
    // An explicit LRSWEEP_BACKEND is obeyed without probing.
    const fixed = createBackendChooser({ pref: 'tensorflow', initial });
    expect(await fixed(c, datasets.small)).toMatchObject({
      choice: { name: 'tensorflow' },
      reason: 'LRSWEEP_BACKEND=tensorflow',
    });
    // A worker without the native backend says so when a spec asks for it.
    const wasmOnly = createBackendChooser({ pref: 'auto', initial: await selectBackend('wasm') });
    await expect(wasmOnly(c, datasets.small, 'tensorflow')).rejects.toThrow(/does not have/);
    expect((await wasmOnly(c, datasets.small)).reason).toBe('the only backend this worker has');
  });
});
