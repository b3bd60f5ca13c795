import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { activate, layerNorm, Params } from './layers';
import { createRng } from './rng';
import { ADAM_KERNEL, createOptimizer, type OptimizerSpec } from './optimizers';
import {
  DatasetError,
  loadCifar10,
  loadDataset,
  loadIdx,
  type ModelSpec,
  selectBackend,
  synthetic,
  train,
  type UpdateRecord,
} from './index';

beforeAll(async () => {
  expect((await selectBackend('wasm')).name).toBe('wasm');
});

const fit = (model: ModelSpec, data: ReturnType<typeof synthetic>, steps: number, lr = 0.003) => {
  const losses: UpdateRecord[] = [];
  const batch = 32;
  const epochs = Math.ceil((steps * batch) / data.trainY.length);
  const r = train(
    {
      model,
      optimizer: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
      training: { epochs, batchSize: batch, evalEvery: 1000 },
      baseLr: lr,
      schedule: { kind: 'constant' },
      seed: 1,
    },
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
    const m = createModel(
      { kind: 'mlp', hidden: [256], activation: 'relu' },
      { task: 'classification', shape: [28, 28, 1], inputDim: 784, numClasses: 10, targetDim: 1 },
      createRng(0),
    );
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
      const x = tf.variable(
        tf.tensor4d(
          values(
            (xs as readonly number[]).reduce((a, b) => a * b),
            1,
          ),
          [...xs],
        ),
      );
      const w = tf.variable(
        tf.tensor4d(
          values(
            (ws as readonly number[]).reduce((a, b) => a * b),
            0.7,
          ),
          [...ws],
        ),
      );
      const { grads } = tf.variableGrads(
        () => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad))) as tf.Scalar,
        [x, w],
      );
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
      return [
        tf.matMul(a, b, false, true),
        tf.matMul(b, a, false, true),
        tf.matMul(tf.transpose(a, [0, 2, 1]), tf.transpose(b, [0, 2, 1]), true, false),
      ];
    };
    expect(close(await run('cpu', f), await run('wasm', f))).toBeLessThan(1e-5);
  });

  it('batched products (SIMD kernel where n is a multiple of 4) match, with either operand transposed, and their gradients', async () => {
    const f = () => {
      const a = tf.variable(tf.tensor3d(values(6 * 16 * 12, 0.3), [6, 16, 12]));
      const b = tf.variable(tf.tensor3d(values(6 * 12 * 8, 0.9), [6, 12, 8]));
      const c = tf.tensor4d(values(2 * 3 * 5 * 8, 0.4), [2, 3, 5, 8]);
      const d = tf.tensor4d(values(2 * 3 * 8 * 4, 0.2), [2, 3, 8, 4]);
      const odd = tf.tensor3d(values(6 * 12 * 6, 0.5), [6, 12, 6]); // n = 6: the backend's own loop
      const shared = tf.tensor3d(values(12 * 8, 0.6), [1, 12, 8]); // broadcast batch: the backend's own loop
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.square(tf.matMul(tf.matMul(a, b), b, false, true))) as tf.Scalar,
        [a, b],
      );
      const out = [
        tf.matMul(a, b),
        tf.matMul(tf.transpose(a, [0, 2, 1]), b, true, false),
        tf.matMul(a, tf.transpose(b, [0, 2, 1]), false, true),
        tf.matMul(tf.transpose(a, [0, 2, 1]), tf.transpose(b, [0, 2, 1]), true, true),
        tf.matMul(c, d),
        tf.matMul(a, odd),
        tf.matMul(a, shared),
        value,
        grads[a.name]!,
        grads[b.name]!,
      ];
      a.dispose();
      b.dispose();
      return out;
    };
    expect(close(await run('cpu', f), await run('wasm', f))).toBeLessThan(1e-5);
  });

  it.each([
    ['adam', { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 }],
    ['adam + L2', { kind: 'adam', beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1 }],
    ['adamw', { kind: 'adamw', beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.05 }],
  ] as [string, OptimizerSpec][])(
    'the fused Adam step on wasm follows the composed one on cpu (%s)',
    async (_n, spec) => {
      const f = () => {
        const w = tf.variable(tf.tensor2d(values(35, 0.37), [7, 5]), true, `adam_${Math.random()}`);
        const opt = createOptimizer(spec, [w]);
        const out: tf.Tensor[] = [];
        [0.1, 0.03, 0.2, 0.05, 0.1].forEach((lr, k) => {
          tf.tidy(() => opt.apply({ [w.name]: tf.mul(tf.sin(tf.add(w, k)), 2) }, lr));
          out.push(w.clone());
        });
        const slots = opt.exportState().slots.map((x) => tf.tensor(x));
        opt.dispose();
        w.dispose();
        return [...out, ...slots];
      };
      const cpu = await run('cpu', f);
      const wasm = await run('wasm', f);
      expect(tf.getKernel(ADAM_KERNEL, 'wasm')).toBeDefined();
      expect(close(cpu, wasm)).toBeLessThan(1e-6);
    },
  );

  it('splits, concatenations and average-pool gradients (SIMD copies) match', async () => {
    const f = () => {
      const x = tf.tensor3d(values(4 * 6 * 8, 0.3), [4, 6, 8]);
      const n = tf.tensor2d(
        Int32Array.from({ length: 5 * 7 }, (_, i) => i - 9),
        [5, 7],
        'int32',
      );
      const img = tf.tensor4d(values(2 * 8 * 6 * 3, 0.6), [2, 8, 6, 3]);
      const grad = (size: number, stride: number, pad: 'valid' | 'same') =>
        tf.grad((v: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.avgPool(v as tf.Tensor4D, size, stride, pad),
              tf.sin(tf.avgPool(v as tf.Tensor4D, size, stride, pad)),
            ),
          ),
        )(img);
      return [
        ...tf.split(x, [1, 3, 2], 1),
        ...tf.split(x, 2, 2),
        ...tf.split(x, [3, 1], 0),
        ...tf.split(n, [2, 5], 1),
        tf.concat([x, tf.mul(x, 2)], 2),
        tf.concat([x, tf.zeros([4, 0, 8]), tf.ones([4, 2, 8])], 1),
        tf.concat([n, n], 0),
        tf.concat([tf.reshape(x, [4, 48]), tf.reshape(x, [4, 48]), tf.reshape(x, [4, 48])], 1),
        grad(2, 2, 'valid'), // windows tile the input: the SIMD kernel
        grad(3, 3, 'valid'), // 8 rows are not 3-row windows: the backend's own
        grad(3, 2, 'same'),
      ];
    };
    const cpu = await run('cpu', f);
    const wasm = await run('wasm', f);
    expect(wasm.slice(0, 13)).toEqual(cpu.slice(0, 13)); // splits and concatenations move values, exactly
    expect(close(cpu.slice(13), wasm.slice(13))).toBeLessThan(1e-5); // (sin differs a little between backends)
  });

  it('sums over leading axes (SIMD column sums), other sums, tiled transposes and casts match', async () => {
    const f = () => {
      const x = tf.tensor3d(values(6 * 5 * 8, 0.7), [6, 5, 8]);
      const y = tf.tensor3d(values(3 * 4 * 6, 0.8), [3, 4, 6]);
      const m = tf.tensor2d(values(64 * 96, 0.1), [64, 96]);
      const p = tf.tensor2d(values(7 * 13, 0.2), [7, 13]);
      return [
        tf.sum(x, 0),
        tf.sum(x, [0, 1]),
        tf.sum(x, [1, 0], true),
        tf.sum(x, [-3, -2]),
        tf.sum(x, 1),
        tf.sum(x, [0, 2]),
        tf.sum(y, [0, 1]),
        tf.sum(x),
        tf.transpose(m),
        tf.transpose(p),
        tf.cast(x, 'float32'),
        tf.cast(tf.tensor1d([1, 2, 3], 'int32'), 'float32'),
        tf.cast(tf.tensor1d([1.7, -2.2, 0], 'float32'), 'int32'),
      ];
    };
    const cpu = await run('cpu', f);
    const wasm = await run('wasm', f);
    expect(close(cpu, wasm)).toBeLessThan(1e-6);
    expect(wasm[8]).toEqual(cpu[8]); // a transpose moves values, exactly
    expect(wasm[12]).toEqual([1, -2, 0]);
  });
});

it("layer norm's written-out gradient equals automatic differentiation of its formula", async () => {
  const x = tf.tensor3d(
    Float32Array.from({ length: 4 * 5 * 8 }, (_, i) => Math.sin(i * 0.7) * 3 + (i % 5)),
    [4, 5, 8],
  );
  const p = new Params(createRng(1));
  const ln = layerNorm(p, 8);
  const [g, b] = p.variables as [tf.Variable, tf.Variable];
  g.assign(tf.linspace(0.5, 2, 8));
  b.assign(tf.linspace(-1, 1, 8));
  const loss = (f: (v: tf.Tensor) => tf.Tensor) => (v: tf.Tensor) => tf.sum(tf.sin(f(v))) as tf.Scalar;
  const composed = (v: tf.Tensor) => {
    const { mean, variance } = tf.moments(v, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(v, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
  };
  const grads = (f: (v: tf.Tensor) => tf.Tensor) =>
    tf.tidy(() => {
      const { value, grads: gv } = tf.variableGrads(() => loss(f)(x), [g, b]);
      return [value, tf.grad(loss(f))(x), gv[g.name]!, gv[b.name]!].map((t) => Array.from(t.dataSync()));
    });
  const want = grads(composed);
  const got = grads(ln);
  want.forEach((w, i) => w.forEach((v, j) => expect(got[i]![j]).toBeCloseTo(v, 4)));
  p.dispose();
  x.dispose();
});

it('gelu (tanh form, via sigmoid) stays within 1e-3 of the erf form', () => {
  const x = tf.linspace(-8, 8, 1601);
  const [fast, exact] = tf.tidy(() => [
    activate('gelu', x),
    tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))),
  ]);
  const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(fast!, exact!))).dataSync()[0]!);
  expect(gap).toBeLessThan(1e-3);
  expect(gap).toBeGreaterThan(0); // it is the approximation, not erf
  tf.dispose([x, fast!, exact!]);
});

it('gelu’s written-out gradient is the composed ops’ gradient (PyTorch’s tanh form)', () => {
  const x = tf.linspace(-6, 6, 1201);
  const composed = (v: tf.Tensor) =>
    tf.mul(v, tf.sigmoid(tf.mul(tf.add(v, tf.mul(tf.mul(tf.square(v), v), 0.044715)), 2 * Math.sqrt(2 / Math.PI))));
  const [want, got, value, wantValue] = tf.tidy(() => [
    tf.grad(composed)(x),
    tf.grad((v: tf.Tensor) => activate('gelu', v))(x),
    activate('gelu', x),
    composed(x),
  ]);
  const gradGap = tf.tidy(() => tf.max(tf.abs(tf.sub(got!, want!))).dataSync()[0]!);
  expect(gradGap).toBeLessThan(1e-5);
  expect(Array.from(value!.dataSync())).toEqual(Array.from(wantValue!.dataSync()));
  // And it is GELU's slope: ~0 far left, 1 far right, ½ at 0.
  const slope = got!.dataSync();
  expect(slope[0]).toBeCloseTo(0, 5);
  expect(slope[1200]).toBeCloseTo(1, 5);
  expect(slope[600]).toBeCloseTo(0.5, 3); // (linspace's middle point is 0 only to float32 rounding)
  tf.dispose([x, want!, got!, value!, wantValue!]);
});

describe('the SIMD kernels on their own memory', () => {
  it('bmm and colsum compute what their loops say', async () => {
    const { simdKernels } = await import('./simd');
    const memory = new WebAssembly.Memory({ initial: 1 });
    const k = await simdKernels(memory);
    const f32 = new Float32Array(memory.buffer);
    const [batch, m, kk, n] = [3, 5, 7, 8];
    const a = Float32Array.from({ length: batch * m * kk }, (_, i) => Math.sin(i));
    const w = Float32Array.from({ length: batch * kk * n }, (_, i) => Math.cos(i * 0.3));
    f32.set(a, 0);
    f32.set(w, 1000);
    k.bmm(0, 4000, 8000, batch, m, kk, n);
    for (let b = 0; b < batch; b++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let t = 0; t < kk; t++) sum += a[(b * m + i) * kk + t]! * w[(b * kk + t) * n + j]!;
          expect(f32[2000 + (b * m + i) * n + j]).toBeCloseTo(sum, 5);
        }
    f32.fill(7, 3000, 3012); // colsum must overwrite what was there
    k.colsum(4000, 4, 12, 12000);
    for (let j = 0; j < 12; j++) expect(f32[3000 + j]).toBeCloseTo(w[j]! + w[12 + j]! + w[24 + j]! + w[36 + j]!, 5);
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
    expect(() => loadIdx('mnist-idx', join(dir, 'nope'), { trainSize: 1, testSize: 1 })).toThrow(
      /missing .*nope\/train-images-idx3-ubyte/,
    );
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(Buffer.from([1, 2, 3])));
    expect(() => loadIdx('mnist-idx', dir, { trainSize: 6, testSize: 3 })).toThrow(DatasetError);
    expect(() => loadIdx('mnist-idx', dir, { trainSize: 6, testSize: 3 })).toThrow(
      /t10k-labels-idx1-ubyte.gz is not an IDX file/,
    );
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
    expect([...d.trainX.subarray(k * 3072, k * 3072 + 6)].map((v) => Math.round(v * 255))).toEqual([
      255, 0, 51, 255, 0, 51,
    ]);
    expect([...d.testY]).toEqual([1]);
    writeFileSync(join(cdir, 'test_batch.bin'), Buffer.alloc(10));
    expect(() => loadCifar10(cdir, { trainSize: 2, testSize: 1 })).toThrow(/test_batch.bin is not CIFAR-10 binary/);
    expect(() => loadCifar10(join(cdir, 'none'), { trainSize: 2, testSize: 1 })).toThrow(
      /missing .*none\/data_batch_1.bin/,
    );
  });
});
