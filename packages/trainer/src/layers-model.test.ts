// TF.js Layers models of the user's own, in the format tensorflowjs_converter writes from Keras:
// a model.json (the Keras topology and a weights manifest) beside binary weight shards.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeKerasModel } from '@lrsweep/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildLayersModel,
  createModel,
  createRng,
  type Dataset,
  evaluate,
  liveTensorCount,
  readLayersModel,
  selectBackend,
  synthetic,
  type TrainConfig,
  type TrainerState,
  train,
  type UpdateRecord,
} from './index';

beforeAll(async () => {
  expect((await selectBackend('wasm')).name).toBe('wasm');
});

const data = synthetic({ trainSize: 512, testSize: 128 });
const cfg = (over: Partial<TrainConfig> & Pick<TrainConfig, 'model'>): TrainConfig => ({
  optimizer: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
  training: { epochs: 2, batchSize: 32, evalEvery: 8 },
  baseLr: 0.003,
  schedule: { kind: 'cosine' },
  seed: 1,
  ...over,
});

/** Trains a Layers model from its files, as a worker does (files read, model built, trained). */
async function trainFiles(file: string, c: TrainConfig, d: Dataset = data, weights = false) {
  const layers = await buildLayersModel(readLayersModel(file, undefined, { weights }));
  const updates: UpdateRecord[] = [];
  const result = train(c, d, { onUpdate: (u) => updates.push(u) }, { layers });
  return { result, losses: updates.map((u) => u.trainLoss), lrs: updates.map((u) => u.lr) };
}

describe('Layers models (Keras format)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lrsweep-layers-'));
  const model = writeKerasModel(dir, { inputs: 64, hidden: 32, outputs: 10, activation: 'softmax', batchNorm: true });
  const spec = {
    kind: 'layers',
    path: 'model.json',
    loss: 'sparse_categorical_crossentropy',
    weights: 'initial',
  } as const;

  it("trains with lrsweep's optimizer and schedule: the loss falls, the same seed repeats, another differs", async () => {
    const before = liveTensorCount();
    const c0 = cfg({ model: spec, baseLr: 0.01, training: { epochs: 3, batchSize: 32, evalEvery: 8 } });
    const a = await trainFiles(model.file, c0);
    expect(liveTensorCount()).toBe(before);
    expect(a.result.status).toBe('completed');
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(a.losses.slice(-4))).toBeLessThan(0.5 * mean(a.losses.slice(0, 4)));
    expect(a.result.finalMetrics.val_acc).toBeGreaterThan(0.5);
    expect(a.lrs[0]).toBeCloseTo(0.01, 9);
    expect(a.lrs.at(-1)).toBeLessThan(1e-4);
    const b = await trainFiles(model.file, c0);
    expect(b.losses).toEqual(a.losses);
    const c = await trainFiles(model.file, { ...c0, seed: 2 });
    expect(c.losses).not.toEqual(a.losses);
  });

  it('starts from the file\'s weights with weights: "pretrained", and from fresh ones per seed otherwise', async () => {
    const built = await buildLayersModel(readLayersModel(model.file));
    const pretrained = createModel({ ...spec, weights: 'pretrained' }, data, createRng(1), built);
    const kernel = (m: typeof pretrained) => Array.from(m.variables[0]!.dataSync());
    expect(kernel(pretrained)).toEqual(Array.from(model.weights['dense_in/kernel']!));
    pretrained.dispose();
    const fresh = (seed: number) =>
      buildLayersModel(readLayersModel(model.file, undefined, { weights: false })).then((l) =>
        createModel(spec, data, createRng(seed), l),
      );
    const [x, y, z] = await Promise.all([fresh(1), fresh(1), fresh(2)]);
    expect(kernel(x)).not.toEqual(Array.from(model.weights['dense_in/kernel']!));
    expect(kernel(y)).toEqual(kernel(x));
    expect(kernel(z)).not.toEqual(kernel(x));
    // Glorot-uniform, as the layer's initializer says: within ±√(6 / (fan_in + fan_out)).
    expect(Math.max(...kernel(x).map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / (64 + 32)));
    for (const m of [x, y, z]) m.dispose();
  });

  it('keeps batch-norm statistics in checkpoints: a resumed run continues exactly', async () => {
    const c = cfg({ model: spec, training: { epochs: 2, batchSize: 32, evalEvery: 4 } });
    const full = await trainFiles(model.file, c);
    const layers = await buildLayersModel(readLayersModel(model.file, undefined, { weights: false }));
    let saved: TrainerState | undefined;
    let n = 0;
    train(c, data, { shouldStop: () => ++n >= 11, onCheckpoint: (s) => (saved = s) }, { layers, checkpointEvery: 5 });
    expect(saved!.step).toBe(11);
    const rest: number[] = [];
    const resumed = await buildLayersModel(readLayersModel(model.file, undefined, { weights: false }));
    train(c, data, { onUpdate: (u) => rest.push(u.trainLoss) }, { layers: resumed, resume: saved });
    expect(rest).toEqual(full.losses.slice(11));
  });

  it('fails with a message naming the layer whose input does not fit the data', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'lrsweep-layers-'));
    const wrong = writeKerasModel(d2, { inputs: 10, hidden: 8, outputs: 10, activation: 'softmax' });
    await expect(trainFiles(wrong.file, cfg({ model: spec }))).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      message: expect.stringMatching(
        /layer 'dense_in' takes inputs of shape \[10\].*samples are \[8, 8, 1\] \(64 values\)/,
      ),
    });
  });

  it('fails naming the output layer when it is too narrow for the classes, or the loss does not fit', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'lrsweep-layers-'));
    const narrow = writeKerasModel(d2, { inputs: 64, hidden: 8, outputs: 3, activation: 'softmax' });
    await expect(trainFiles(narrow.file, cfg({ model: spec }))).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      message: expect.stringContaining("layer 'dense_out' gives 3 values per sample; the dataset has 10 classes"),
    });
    await expect(
      trainFiles(narrow.file, cfg({ model: { ...spec, loss: 'binary_crossentropy' } })),
    ).rejects.toMatchObject({
      message: expect.stringContaining("binary_crossentropy needs one output per sample; layer 'dense_out' gives 3"),
    });
  });

  it('computes the loss Keras does: cross-entropy on probabilities for a softmax output, on logits for a linear one', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'lrsweep-layers-'));
    const soft = writeKerasModel(d2, { inputs: 64, hidden: 16, outputs: 10, activation: 'softmax' });
    const d3 = mkdtempSync(join(tmpdir(), 'lrsweep-layers-'));
    const linear = writeKerasModel(d3, { inputs: 64, hidden: 16, outputs: 10, activation: 'linear' });
    const valLoss = async (file: string) => {
      const m = createModel(
        { ...spec, weights: 'pretrained' },
        data,
        createRng(0),
        await buildLayersModel(readLayersModel(file)),
      );
      const e = evaluate(m, data);
      m.dispose();
      return e.val_loss!;
    };
    // By hand: mean over the validation samples of logsumexp(z) − z[label], z = relu(x W1 + b1) W2 + b2.
    const w = soft.weights;
    let sum = 0;
    const n = data.valY.length;
    for (let s = 0; s < n; s++) {
      const x = Array.from(data.valX.subarray(s * 64, (s + 1) * 64));
      const h = Array.from({ length: 16 }, (_, j) =>
        Math.max(0, x.reduce((a, v, i) => a + v * w['dense_in/kernel']![i * 16 + j]!, 0) + w['dense_in/bias']![j]!),
      );
      const z = Array.from({ length: 10 }, (_, k) =>
        h.reduce((a, v, j) => a + v * w['dense_out/kernel']![j * 10 + k]!, 0),
      );
      const top = Math.max(...z);
      sum += top + Math.log(z.reduce((a, v) => a + Math.exp(v - top), 0)) - z[data.valY[s]!]!;
    }
    expect(await valLoss(soft.file)).toBeCloseTo(sum / n, 4);
    expect(await valLoss(linear.file)).toBeCloseTo(sum / n, 4);
  });
});
