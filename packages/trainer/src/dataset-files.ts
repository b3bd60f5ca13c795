import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type Dataset, DatasetError, type DatasetRequest, enough, fromParts, type Samples } from './datasets';

/** A file's bytes, from `base` or `base.gz`; a clear error when neither can be read. */
export function readBytes(dir: string, base: string): { bytes: Uint8Array; file: string } {
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
  if (bytes.length !== offset + size)
    throw new DatasetError(`${file} is truncated or corrupt (expected ${offset + size} bytes, found ${bytes.length})`);
  return { dims, data: bytes.subarray(offset) };
}

/**
 * MNIST-format IDX files (train-/t10k- images and labels, gzipped or not) from a directory, as
 * Fashion-MNIST and the original MNIST ship them. Test samples come from the t10k files.
 */
export function loadIdx(name: string, dir: string, req: Omit<DatasetRequest, 'name'>): Dataset {
  const part = (prefix: string): Samples & { h: number; w: number } => {
    const img = readBytes(dir, `${prefix}-images-idx3-ubyte`);
    const lab = readBytes(dir, `${prefix}-labels-idx1-ubyte`);
    const images = parseIdx(img.bytes, img.file, 3);
    const labels = parseIdx(lab.bytes, lab.file, 1);
    if (images.dims[0] !== labels.dims[0])
      throw new DatasetError(`${img.file} and ${lab.file} disagree on the number of samples`);
    const [n, h, w] = images.dims as [number, number, number];
    const x = new Float32Array(n * h * w);
    for (let i = 0; i < x.length; i++) x[i] = images.data[i]! / 255;
    return { x, y: Int32Array.from(labels.data), n, xLen: h * w, yLen: 1, h, w };
  };
  const train = part('train');
  const test = part('t10k');
  enough(dir, train.n, test.n, req);
  return fromParts({ name, task: 'classification', shape: [train.h, train.w, 1], numClasses: 10 }, train, test, req);
}

/**
 * CIFAR-10's binary version: data_batch_1…5.bin (training) and test_batch.bin, each record a label
 * byte and 3 072 bytes of 32×32 R, G and B planes. Samples become HWC, scaled to [0, 1].
 */
export function loadCifar10(dir: string, req: Omit<DatasetRequest, 'name'>): Dataset {
  const record = 1 + 3072;
  const read = (files: string[]): Samples => {
    const parts = files.map((f) => {
      const { bytes, file } = readBytes(dir, f);
      if (bytes.length % record !== 0)
        throw new DatasetError(`${file} is not CIFAR-10 binary (its size is not a multiple of ${record})`);
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
        for (let pix = 0; pix < 1024; pix++)
          for (let ch = 0; ch < 3; ch++) x[k * 3072 + pix * 3 + ch] = bytes[o + 1 + ch * 1024 + pix]! / 255;
      }
    }
    return { x, y, n, xLen: 3072, yLen: 1 };
  };
  const present = [1, 2, 3, 4, 5]
    .map((i) => `data_batch_${i}.bin`)
    .filter((f) => existsSync(join(dir, f)) || existsSync(join(dir, `${f}.gz`)));
  if (!present.length)
    throw new DatasetError(
      `missing ${join(dir, 'data_batch_1.bin')}: point the dataset's path at CIFAR-10's binary version`,
    );
  const train = read(present);
  const test = read(['test_batch.bin']);
  enough(dir, train.n, test.n, req);
  return fromParts({ name: 'cifar10', task: 'classification', shape: [32, 32, 3], numClasses: 10 }, train, test, req);
}
