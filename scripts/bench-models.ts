// The models and the random data that `pnpm bench:trainer` and scripts/profile-kernels.ts use.
import { createRng, type Dataset, type ModelSpec } from '@lrsweep/trainer';

export const BATCH = 128;

/** A bench model and its samples: images (`shape` [h, w, c]) or, for the text task, windows of `shape[0]` tokens. */
export interface BenchModel {
  name: string;
  spec: ModelSpec;
  shape: number[];
  task: 'classification' | 'lm';
}

export const benchModels: BenchModel[] = [
  { name: 'mlp', spec: { kind: 'mlp', hidden: [256], activation: 'relu' }, shape: [28, 28, 1], task: 'classification' },
  { name: 'lenet', spec: { kind: 'lenet', activation: 'sigmoid' }, shape: [28, 28, 1], task: 'classification' },
  {
    name: 'cnn',
    spec: { kind: 'cnn', channels: [32, 64], batchNorm: false },
    shape: [32, 32, 3],
    task: 'classification',
  },
  {
    name: 'vit',
    spec: { kind: 'vit', patchSize: 7, width: 64, depth: 2, heads: 4, mlpRatio: 2 },
    shape: [28, 28, 1],
    task: 'classification',
  },
  { name: 'gpt', spec: { kind: 'gpt', width: 64, depth: 2, heads: 4, mlpRatio: 4 }, shape: [64], task: 'lm' },
];

/** What a model is built for, as the trainer's datasets describe it. */
export const modelDataOf = (m: Pick<BenchModel, 'shape' | 'task'>) => {
  const inputDim = m.shape.reduce((a, b) => a * b, 1);
  return m.task === 'lm'
    ? { task: 'lm' as const, shape: m.shape, inputDim, numClasses: 256, targetDim: inputDim }
    : { task: 'classification' as const, shape: m.shape, inputDim, numClasses: 10, targetDim: 1 };
};

/** Seeded uniform inputs with cycling labels: throughput does not depend on what is learned. */
/** Seeded uniform inputs with cycling labels (random bytes for the text task): throughput does not depend on what is learned. */
export function randomDataset(m: Pick<BenchModel, 'shape' | 'task'>, samples: number): Dataset {
  const info = modelDataOf(m);
  const d = info.inputDim;
  const t = info.targetDim;
  const rng = createRng(3);
  const x =
    m.task === 'lm'
      ? Int32Array.from({ length: samples * d }, () => Math.floor(rng.next() * 256))
      : Float32Array.from({ length: samples * d }, () => rng.next());
  const y =
    m.task === 'lm'
      ? Int32Array.from({ length: samples * t }, () => Math.floor(rng.next() * 256))
      : Int32Array.from({ length: samples }, (_, i) => i % 10);
  return {
    name: 'bench',
    ...info,
    trainX: x,
    trainY: y,
    valX: x.subarray(0, BATCH * d),
    valY: y.subarray(0, BATCH * t),
    testX: x.subarray(0, BATCH * d),
    testY: y.subarray(0, BATCH * t),
    checksum: '',
  };
}

export const adamConfig = (spec: ModelSpec, epochs: number) => ({
  model: spec,
  optimizer: { kind: 'adam' as const, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
  training: { epochs, batchSize: BATCH, evalEvery: 1_000_000 },
  baseLr: 1e-3,
  schedule: { kind: 'constant' as const },
  seed: 0,
});
