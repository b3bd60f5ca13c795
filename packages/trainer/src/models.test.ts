import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, loadCifar10, loadDataset, loadIdx, type ModelSpec, selectBackend, synthetic, train, type UpdateRecord } from './index';

beforeAll(async () => {
  expect((await selectBackend('wasm')).name).toBe('wasm');
});

const fit = (model: ModelSpec, data: ReturnType<typeof synthetic>, steps: number, lr = 0.003) => {
  const losses: UpdateRecord[] = [];
  const batch = 32;
  const epochs = Math.ceil((steps * batch) / data.trainY.length);
  const r = train(
    { model, optimizer: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }, training: { epochs, batchSize: batch, evalEvery: 1000 }, baseLr: lr, schedule: { kind: 'constant' }, seed: 1 },
    data,
    { onUpdate: (u) => losses.push(u) },
  );
  const mean = (xs: UpdateRecord[]) => xs.reduce((a, u) => a + u.trainLoss, 0) / xs.length;
  return { first: mean(losses.slice(0, 3)), last: mean(losses.slice(-3)), result: r };
};

describe('models train on wasm (the loss falls on a learnable set)', () => {
  const small = synthetic({ trainSize: 320, testSize: 64 });
  it.each([
    ['mlp', { kind: 'mlp', hidden: [32], activation: 'relu' }, 0.003],
    ['cnn', { kind: 'cnn', channels: [8, 16], batchNorm: false }, 0.003],
    ['cnn + batch norm', { kind: 'cnn', channels: [8, 16], batchNorm: true }, 0.01],
    ['vit', { kind: 'vit', patchSize: 2, width: 32, depth: 2, heads: 4, mlpRatio: 2 }, 0.003],
  ] as [string, ModelSpec, number][])('%s', (_name, spec, lr) => {
    const { first, last, result } = fit(spec, small, 30, lr);
    expect(result.status).toBe('completed');
    expect(last).toBeLessThan(first * 0.7);
  });

  it('lenet (D2L) on MNIST digits', () => {
    const mnist = loadDataset({ name: 'mnist', trainSize: 640, testSize: 100 });
    const { first, last } = fit({ kind: 'lenet', activation: 'relu' }, mnist, 40);
    expect(last).toBeLessThan(first * 0.7);
  });

  it('counts forward FLOPs as 2 per multiply-add', async () => {
    const { createModel } = await import('./models');
    const { createRng } = await import('./rng');
    const m = createModel({ kind: 'mlp', hidden: [256], activation: 'relu' }, [28, 28, 1], 10, createRng(0));
    expect(m.forwardFlops).toBe(2 * (784 * 256 + 256 * 10));
    m.dispose();
  });
});

describe('wasm kernels against the cpu backend', () => {
  const run = async (backend: 'cpu' | 'wasm', f: () => tf.Tensor[]) => {
    await tf.setBackend(backend);
    return tf.tidy(() => f().map((t) => Array.from(t.dataSync())));
  };
  /** The largest relative error ‖a − b‖ / ‖a‖ over the tensors (the usual gradient-check measure). */
  const close = (a: number[][], b: number[][]) =>
    Math.max(
      ...a.map((xs, i) => {
        const diff = Math.hypot(...xs.map((v, j) => v - b[i]![j]!));
        return diff / Math.max(1e-12, Math.hypot(...xs));
      }),
    );
  const values = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k) * 0.5);

  it.each([
    ['stride 1, same', [2, 9, 9, 3], [3, 3, 3, 4], 1, 'same'],
    ['stride 1, valid, 5×5', [3, 12, 12, 2], [5, 5, 2, 6], 1, 'valid'],
    ['stride 2, same', [2, 11, 11, 3], [3, 3, 3, 5], 2, 'same'],
    ['stride 3, valid', [1, 10, 10, 1], [4, 4, 1, 2], 3, 'valid'],
  ] as const)('convolution gradients match to 1e-4 relative (%s)', async (_n, xs, ws, s, pad) => {
    const f = () => {
      const x = tf.variable(tf.tensor4d(values((xs as readonly number[]).reduce((a, b) => a * b), 1), [...xs]));
      const w = tf.variable(tf.tensor4d(values((ws as readonly number[]).reduce((a, b) => a * b), 0.7), [...ws]));
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad))) as tf.Scalar, [x, w]);
      const out = [grads[x.name]!, grads[w.name]!];
      x.dispose();
      w.dispose();
      return out;
    };
    const cpu = await run('cpu', f);
    const wasm = await run('wasm', f);
    expect(close(cpu, wasm)).toBeLessThan(1e-4);
  });

  it('transposed matrix products match', async () => {
    const f = () => {
      const a = tf.tensor3d(values(2 * 5 * 7, 0.3), [2, 5, 7]);
      const b = tf.tensor3d(values(2 * 6 * 7, 0.9), [2, 6, 7]);
      return [tf.matMul(a, b, false, true), tf.matMul(b, a, false, true), tf.matMul(tf.transpose(a, [0, 2, 1]), tf.transpose(b, [0, 2, 1]), true, false)];
    };
    expect(close(await run('cpu', f), await run('wasm', f))).toBeLessThan(1e-5);
  });
});

describe('dataset files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lrsweep-data-'));
  const idx = (dims: number[], data: number[]) => {
    const head = Buffer.alloc(4 + 4 * dims.length);
    head.writeUInt8(0x08, 2);
    head.writeUInt8(dims.length, 3);
    dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
    return Buffer.concat([head, Buffer.from(data)]);
  };

  it('reads IDX files, gzipped or not, and names a missing or corrupt file', () => {
    const images = (n: number) => Array.from({ length: n * 4 * 4 }, (_, i) => (i * 7) % 256);
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx([6, 4, 4], images(6))));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx([6], [0, 1, 2, 3, 4, 5]));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idx([3, 4, 4], images(3)));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx([3], [9, 8, 7])));
    const d = loadIdx('mnist-idx', dir, { trainSize: 6, testSize: 3 });
    expect(d.shape).toEqual([4, 4, 1]);
    expect([...d.trainY].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...d.testY].sort()).toEqual([7, 8, 9]);
    // Each sample keeps its label: find the sample labelled 3 and check its first pixel.
    const k = [...d.trainY].indexOf(3);
    expect(d.trainX[k * 16]).toBeCloseTo(((3 * 16 * 7) % 256) / 255, 6);
    expect(() => loadIdx('mnist-idx', join(dir, 'nope'), { trainSize: 1, testSize: 1 })).toThrow(/missing .*nope\/train-images-idx3-ubyte/);
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(Buffer.from([1, 2, 3])));
    expect(() => loadIdx('mnist-idx', dir, { trainSize: 6, testSize: 3 })).toThrow(DatasetError);
    expect(() => loadIdx('mnist-idx', dir, { trainSize: 6, testSize: 3 })).toThrow(/t10k-labels-idx1-ubyte.gz is not an IDX file/);
  });

  it('reads CIFAR-10 binary batches as HWC images in [0, 1]', () => {
    const record = (label: number, r: number, g: number, b: number) =>
      Buffer.concat([Buffer.from([label]), Buffer.alloc(1024, r), Buffer.alloc(1024, g), Buffer.alloc(1024, b)]);
    const cdir = mkdtempSync(join(tmpdir(), 'lrsweep-cifar-'));
    writeFileSync(join(cdir, 'data_batch_1.bin'), Buffer.concat([record(3, 255, 0, 51), record(7, 0, 102, 0)]));
    writeFileSync(join(cdir, 'test_batch.bin'), record(1, 10, 20, 30));
    const d = loadCifar10(cdir, { trainSize: 2, testSize: 1 });
    expect(d.shape).toEqual([32, 32, 3]);
    const k = [...d.trainY].indexOf(3);
    expect([...d.trainX.subarray(k * 3072, k * 3072 + 6)].map((v) => Math.round(v * 255))).toEqual([255, 0, 51, 255, 0, 51]);
    expect([...d.testY]).toEqual([1]);
    writeFileSync(join(cdir, 'test_batch.bin'), Buffer.alloc(10));
    expect(() => loadCifar10(cdir, { trainSize: 2, testSize: 1 })).toThrow(/test_batch.bin is not CIFAR-10 binary/);
    expect(() => loadCifar10(join(cdir, 'none'), { trainSize: 2, testSize: 1 })).toThrow(/missing .*none\/data_batch_1.bin/);
  });
});
