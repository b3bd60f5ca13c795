// The models and the random data that `pnpm bench:trainer` and scripts/profile-kernels.ts use.
import { createRng, type Dataset, type ModelSpec } from '@lrsweep/trainer';

export const BATCH = 128;

export const benchModels: { name: string; spec: ModelSpec; shape: [number, number, number] }[] = [
  { name: 'mlp', spec: { kind: 'mlp', hidden: [256], activation: 'relu' }, shape: [28, 28, 1] },
  { name: 'lenet', spec: { kind: 'lenet', activation: 'sigmoid' }, shape: [28, 28, 1] },
  { name: 'cnn', spec: { kind: 'cnn', channels: [32, 64], batchNorm: false }, shape: [32, 32, 3] },
  { name: 'vit', spec: { kind: 'vit', patchSize: 7, width: 64, depth: 2, heads: 4, mlpRatio: 2 }, shape: [28, 28, 1] },
];

/** Seeded uniform inputs with cycling labels: throughput does not depend on what is learned. */
export function randomDataset(shape: [number, number, number], samples: number): Dataset {
  const d = shape[0] * shape[1] * shape[2];
  const rng = createRng(3);
  const x = Float32Array.from({ length: samples * d }, () => rng.next());
  const y = Int32Array.from({ length: samples }, (_, i) => i % 10);
  return { name: 'bench', shape, inputDim: d, numClasses: 10, trainX: x, trainY: y, valX: x.subarray(0, BATCH * d), valY: y.subarray(0, BATCH), testX: x.subarray(0, BATCH * d), testY: y.subarray(0, BATCH), checksum: '' };
}

export const adamConfig = (spec: ModelSpec, epochs: number) => ({
  model: spec,
  optimizer: { kind: 'adam' as const, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
  training: { epochs, batchSize: BATCH, evalEvery: 1_000_000 },
  baseLr: 1e-3,
  schedule: { kind: 'constant' as const },
  seed: 0,
});
