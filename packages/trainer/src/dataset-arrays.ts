import { readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { unzipSync } from 'fflate';
import { parse as parseNpyBuffer } from 'npyjs';
import {
  type Dataset,
  DatasetError,
  type DatasetInfo,
  type DatasetRequest,
  enough,
  fromParts,
  fromPool,
  type Samples,
  type Task,
} from './datasets';

type Req = Omit<DatasetRequest, 'name'>;

/** One array of an .npy file: its values as numbers, its shape, and whether they were bytes. */
interface NpyArray {
  values: ArrayLike<number>;
  shape: number[];
  dtype: string;
}

/**
 * Reads an .npy array with npyjs (the format's reader for JS), refusing what it would misread:
 * big-endian data, Fortran order, strings and complex numbers, and files shorter than their shape.
 */
export function readNpy(bytes: Uint8Array, file: string): NpyArray {
  // A fresh, aligned ArrayBuffer: npyjs views the data at its offset with typed arrays.
  const copy = new Uint8Array(bytes).buffer;
  let a: ReturnType<typeof parseNpyBuffer>;
  let descr: string;
  try {
    if (bytes.length < 10 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY')
      throw new Error('not an .npy file (no \\x93NUMPY magic)');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const v1 = bytes[6]! <= 1;
    const start = v1 ? 10 : 12;
    const end = start + (v1 ? view.getUint16(8, true) : view.getUint32(8, true));
    if (bytes.length < end) throw new Error(`truncated inside its header (${bytes.length} of ${end} bytes)`);
    const header = new TextDecoder('latin1').decode(bytes.subarray(start, end));
    descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1] ?? '';
    const shape = (/'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1] ?? '')
      .split(',')
      .map((d) => d.trim())
      .filter(Boolean)
      .map(Number);
    const item = Number(/(\d+)$/.exec(descr)?.[1] ?? 0);
    const need = shape.reduce((p, d) => p * d, 1);
    if (item > 0 && bytes.length - end < need * item)
      throw new Error(
        `truncated: its shape [${shape}] needs ${need} values, it has ${Math.floor((bytes.length - end) / item)}`,
      );
  } catch (err) {
    throw new DatasetError(
      `${file} ${(err as Error).message.startsWith('truncated') ? 'is ' : ': '}${(err as Error).message}`,
    );
  }
  if (descr.startsWith('>') && !/^>[iub]1$/.test(descr))
    throw new DatasetError(`${file} is big-endian (${descr}); save it little-endian (numpy's default)`);
  try {
    a = parseNpyBuffer(copy);
  } catch (err) {
    throw new DatasetError(`${file}: ${(err as Error).message}`);
  }
  if (a.fortranOrder) throw new DatasetError(`${file} is in Fortran order; save np.ascontiguousarray(x)`);
  if (!/^[iufb]\d+$/.test(a.dtype))
    throw new DatasetError(`${file} holds ${a.dtype} values; datasets take numbers (float, int, uint8 or bool)`);
  const size = a.shape.reduce((p, d) => p * d, 1);
  const data = a.data as unknown as ArrayLike<number | bigint | boolean>;
  if (data.length < size)
    throw new DatasetError(`${file} is truncated: its shape [${a.shape}] needs ${size} values, it has ${data.length}`);
  let values: ArrayLike<number>;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array)
    values = Float64Array.from(data.subarray(0, size), Number);
  else if (Array.isArray(data)) values = Uint8Array.from(data.slice(0, size) as boolean[], (b) => (b ? 1 : 0));
  else values = (data as unknown as Float64Array).subarray(0, size);
  return { values, shape: a.shape, dtype: a.dtype };
}

const arrayNames = ['x_train', 'y_train', 'x_test', 'y_test'] as const;
type ArrayName = (typeof arrayNames)[number];

/** The four arrays from a directory of .npy files or one .npz (Keras's `load_data()` naming). */
function readNpyArrays(path: string): Record<ArrayName, NpyArray> {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new DatasetError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const out = {} as Record<ArrayName, NpyArray>;
  if (isDir) {
    for (const name of arrayNames) {
      const file = join(path, `${name}.npy`);
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(file);
      } catch {
        throw new DatasetError(
          `missing ${file} (an npy dataset is a directory of x_train.npy, y_train.npy, x_test.npy and y_test.npy, or one .npz)`,
        );
      }
      out[name] = readNpy(bytes, file);
    }
    return out;
  }
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(readFileSync(path));
  } catch (err) {
    throw new DatasetError(`${path} is not an .npz (zip) file: ${(err as Error).message}`);
  }
  for (const name of arrayNames) {
    const bytes = entries[`${name}.npy`] ?? entries[name];
    if (!bytes)
      throw new DatasetError(
        `${basename(path)} has no '${name}' array (it has ${
          Object.keys(entries)
            .map((k) => `'${k.replace(/\.npy$/, '')}'`)
            .join(', ') || 'none'
        })`,
      );
    out[name] = readNpy(bytes, `${basename(path)}:${name}`);
  }
  return out;
}

/** Classes must be 0 … k−1: integers, at least 0. */
function checkLabels(labels: ArrayLike<number>, where: string) {
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if (!Number.isInteger(v) || v < 0)
      throw new DatasetError(
        `${where}: label ${v} at sample ${i} is not a class index (an integer ≥ 0); for numbers to predict, set task "regression"`,
      );
  }
}

/** Samples from a pair of arrays: features as float32 (uint8 scaled to [0, 1]), targets per the task. */
function samplesOf(x: NpyArray, y: NpyArray, part: 'train' | 'test', task: Task): Samples & { featureShape: number[] } {
  const n = x.shape[0] ?? 0;
  if (x.shape.length === 0 || n === 0) throw new DatasetError(`x_${part} has no samples (shape [${x.shape}])`);
  if (y.shape[0] !== n) throw new DatasetError(`x_${part} has ${n} samples but y_${part} has ${y.shape[0] ?? 0}`);
  const featureShape = x.shape.length === 1 ? [1] : x.shape.slice(1);
  const xLen = featureShape.reduce((p, d) => p * d, 1);
  const scale = x.dtype === 'u1' ? 1 / 255 : 1;
  const xs = new Float32Array(n * xLen);
  for (let i = 0; i < xs.length; i++) xs[i] = x.values[i]! * scale;
  for (let i = 0; i < xs.length; i++)
    if (!Number.isFinite(xs[i]!))
      throw new DatasetError(`x_${part} has a non-finite value at sample ${Math.floor(i / xLen)}`);
  const yCols = y.shape.slice(1).reduce((p, d) => p * d, 1);
  if (task === 'regression') {
    const ys = Float32Array.from({ length: n * yCols }, (_, i) => y.values[i]!);
    for (let i = 0; i < ys.length; i++)
      if (!Number.isFinite(ys[i]!))
        throw new DatasetError(`y_${part} has a non-finite target at sample ${Math.floor(i / yCols)}`);
    return { x: xs, y: ys, n, xLen, yLen: yCols, featureShape };
  }
  const ys = new Int32Array(n);
  if (yCols === 1) {
    checkLabels(y.values, `y_${part}`);
    for (let i = 0; i < n; i++) ys[i] = y.values[i]!;
  } else {
    // One-hot rows (Keras's to_categorical): each row one 1 and zeros.
    for (let i = 0; i < n; i++) {
      let hot = -1;
      for (let j = 0; j < yCols; j++) {
        const v = y.values[i * yCols + j]!;
        if (v === 1 && hot < 0) hot = j;
        else if (v !== 0) hot = -2;
      }
      if (hot < 0)
        throw new DatasetError(
          `y_${part} has ${yCols} columns but row ${i} is not one-hot; give class indices, or set task "regression"`,
        );
      ys[i] = hot;
    }
  }
  return { x: xs, y: ys, n, xLen, yLen: 1, featureShape };
}

/** Classes 0 … the largest label seen in any part. */
function classesOf(...parts: Samples[]): number {
  let m = 0;
  for (const p of parts) for (let i = 0; i < p.y.length; i++) if (p.y[i]! > m) m = p.y[i]!;
  return m + 1;
}

/**
 * NumPy arrays: a directory of x_train.npy, y_train.npy, x_test.npy, y_test.npy, or one .npz
 * with those four keys (what `keras.datasets.mnist` ships). Features of any shape and numeric
 * type (uint8 scaled to [0, 1], as the built-in images); labels class indices (or one-hot rows),
 * or numbers with `task: "regression"`. Test samples come from the test arrays.
 */
export function loadNpy(path: string, req: Req): Dataset {
  const a = readNpyArrays(path);
  const task: Task = req.task === 'regression' ? 'regression' : 'classification';
  const train = samplesOf(a.x_train, a.y_train, 'train', task);
  const test = samplesOf(a.x_test, a.y_test, 'test', task);
  if (train.featureShape.join() !== test.featureShape.join())
    throw new DatasetError(`x_train's samples are [${train.featureShape}] but x_test's are [${test.featureShape}]`);
  if (train.yLen !== test.yLen)
    throw new DatasetError(`y_train has ${train.yLen} targets per sample but y_test has ${test.yLen}`);
  enough(basename(path), train.n, test.n, req);
  const info: DatasetInfo = {
    name: 'npy',
    task,
    shape: train.featureShape,
    numClasses: task === 'regression' ? 0 : classesOf(train, test),
  };
  return fromParts(info, train, test, req);
}

/** A CSV file's rows: the header (when the first row is not all numbers) and the records. */
function readCsv(file: string): { header: string[] | null; rows: string[][] } {
  let records: string[][];
  try {
    records = parseCsv(readFileSync(file), {
      skip_empty_lines: true,
      trim: true,
      bom: true,
      relax_column_count: false,
    }) as string[][];
  } catch (err) {
    throw new DatasetError(`${basename(file)}: ${(err as Error).message}`);
  }
  if (!records.length) throw new DatasetError(`${basename(file)} is empty`);
  const first = records[0]!;
  // The first row is a header when it has a name where the next row has a number (a label column
  // of class names is text in both).
  const num = (c: string | undefined) => c !== undefined && c !== '' && Number.isFinite(Number(c));
  const second = records[1];
  const isHeader = first.some((c, j) => !num(c) && (second === undefined || num(second[j])));
  return isHeader ? { header: first, rows: records.slice(1) } : { header: null, rows: records };
}

/** The label column's index, from the spec's `label` (a header name or a 0-based index; default the last). */
function labelColumn(header: string[] | null, width: number, label: DatasetRequest['label'], file: string): number {
  if (label === undefined) return width - 1;
  if (typeof label === 'number') {
    if (label >= width)
      throw new DatasetError(`label column ${label} is past the ${width} columns of ${basename(file)}`);
    return label;
  }
  if (!header) throw new DatasetError(`label '${label}' names a column, but ${basename(file)} has no header row`);
  const k = header.indexOf(label);
  if (k < 0)
    throw new DatasetError(
      `${basename(file)} has no column '${label}' (its columns: ${header.map((h) => `'${h}'`).join(', ')})`,
    );
  return k;
}

/**
 * CSV files of numeric features and one label column: one file (a fixed permutation holds out the
 * test samples), or a directory with train.csv and test.csv. Classification labels are class
 * indices, or names (sorted, then numbered); regression labels are numbers.
 */
export function loadCsv(path: string, req: Req): Dataset {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new DatasetError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const files = isDir ? [join(path, 'train.csv'), join(path, 'test.csv')] : [path];
  const parsed = files.map((f) => ({ file: f, ...readCsv(f) }));
  const width = parsed[0]!.header?.length ?? parsed[0]!.rows[0]?.length ?? 0;
  if (width < 2) throw new DatasetError(`${basename(files[0]!)} needs at least one feature column and a label column`);
  for (const p of parsed) {
    const w = p.header?.length ?? p.rows[0]?.length ?? width;
    if (w !== width)
      throw new DatasetError(`${basename(p.file)} has ${w} columns; ${basename(files[0]!)} has ${width}`);
  }
  const k = labelColumn(parsed[0]!.header, width, req.label, files[0]!);
  const task: Task = req.task === 'regression' ? 'regression' : 'classification';
  const colName = (p: (typeof parsed)[number], j: number) => (p.header ? `'${p.header[j]}'` : `${j}`);
  // Class names, when the labels are not all integers: numbered in sorted order across the files.
  const rawLabels = parsed.flatMap((p) => p.rows.map((r) => r[k]!));
  const named = task === 'classification' && rawLabels.some((v) => !/^\d+$/.test(v));
  const classNames = named ? [...new Set(rawLabels)].sort() : null;
  const parts = parsed.map((p): Samples => {
    const n = p.rows.length;
    const xLen = width - 1;
    const x = new Float32Array(n * xLen);
    const y = task === 'regression' ? new Float32Array(n) : new Int32Array(n);
    p.rows.forEach((r, i) => {
      let o = i * xLen;
      for (let j = 0; j < width; j++) {
        const cell = r[j]!;
        if (j === k) {
          const v = classNames ? classNames.indexOf(cell) : Number(cell);
          if (cell === '' || !Number.isFinite(v))
            throw new DatasetError(
              `${basename(p.file)} row ${i + 1 + (p.header ? 1 : 0)}: label '${cell}' is not a number`,
            );
          y[i] = v;
          continue;
        }
        const v = Number(cell);
        if (cell === '' || !Number.isFinite(v)) {
          throw new DatasetError(
            `${basename(p.file)} row ${i + 1 + (p.header ? 1 : 0)}, column ${colName(p, j)}: '${cell.slice(0, 40)}' is not a number (features must be numeric, with no missing values)`,
          );
        }
        x[o++] = v;
      }
    });
    return { x, y, n, xLen, yLen: 1 };
  });
  const info: DatasetInfo = {
    name: 'csv',
    task,
    shape: [width - 1],
    numClasses: task === 'regression' ? 0 : classesOf(...parts),
  };
  if (parts.length === 2) {
    enough(basename(path), parts[0]!.n, parts[1]!.n, req);
    return fromParts(info, parts[0]!, parts[1]!, req);
  }
  return fromPool(info, parts[0]!, req);
}
