// Files of the user's own: NumPy arrays (.npy directories and .npz), CSV, and text for the
// language-model task, each read, split, and trained on; the errors name what does not fit.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { npyBytes as npy } from '@lrsweep/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createRng,
  type Dataset,
  type DatasetRequest,
  loadDataset,
  selectBackend,
  type TrainConfig,
  train,
  type UpdateRecord,
} from './index';

beforeAll(async () => {
  expect((await selectBackend('wasm')).name).toBe('wasm');
});

const tmp = () => mkdtempSync(join(tmpdir(), 'lrsweep-own-'));

/** Gaussian blobs: class c's features scatter around a center; `flat` features per sample. */
function blobs(n: number, features: number, classes: number, seed: number) {
  const rng = createRng(seed);
  const centers = Array.from({ length: classes }, () => Array.from({ length: features }, () => 2 * rng.normal()));
  const x = new Float64Array(n * features);
  const y = Array.from({ length: n }, (_, i) => i % classes);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < features; j++) x[i * features + j] = centers[y[i]!]![j]! + rng.normal();
  return { x, y };
}

/** A linear target with noise: y = x·w + 0.1ε. */
function linear(n: number, features: number, seed: number) {
  const rng = createRng(seed);
  const w = Array.from({ length: features }, () => rng.normal());
  const x = Float64Array.from({ length: n * features }, () => rng.normal());
  const y = Array.from(
    { length: n },
    (_, i) => w.reduce((a, wj, j) => a + wj * x[i * features + j]!, 0) + 0.1 * rng.normal(),
  );
  return { x, y };
}

const adam = { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 } as const;
function fit(d: Dataset, model: TrainConfig['model'], over: Partial<TrainConfig> = {}) {
  const updates: UpdateRecord[] = [];
  const evals: { step: number; valLoss: number; valAcc: number | null; metrics?: Record<string, number> }[] = [];
  const result = train(
    {
      model,
      optimizer: adam,
      training: { epochs: 4, batchSize: 32, evalEvery: 10 },
      baseLr: 0.01,
      schedule: { kind: 'cosine' },
      seed: 1,
      ...over,
    },
    d,
    {
      onUpdate: (u) => updates.push(u),
      onEval: (e) => evals.push(e),
    },
  );
  return { result, updates, evals };
}
const std = (xs: ArrayLike<number>) => {
  const a = Array.from(xs);
  const m = a.reduce((s, v) => s + v, 0) / a.length;
  return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length);
};

describe('npy and npz datasets', () => {
  const req = (path: string, over: Partial<DatasetRequest> = {}): DatasetRequest => ({
    name: 'npy',
    path,
    trainSize: 300,
    validationSize: 60,
    testSize: 100,
    ...over,
  });

  it('a directory of float64 [n, 4, 4] features and int64 labels: split, shaped, and learnt', () => {
    const dir = tmp();
    const train_ = blobs(400, 16, 3, 1);
    const test_ = blobs(150, 16, 3, 1);
    writeFileSync(join(dir, 'x_train.npy'), npy('<f8', [400, 4, 4], train_.x));
    writeFileSync(join(dir, 'y_train.npy'), npy('<i8', [400], train_.y));
    writeFileSync(join(dir, 'x_test.npy'), npy('<f8', [150, 4, 4], test_.x));
    writeFileSync(join(dir, 'y_test.npy'), npy('<i8', [150], test_.y));
    const d = loadDataset(req(dir));
    expect(d).toMatchObject({ task: 'classification', shape: [4, 4], inputDim: 16, numClasses: 3, targetDim: 1 });
    expect([d.trainY.length, d.valY.length, d.testY.length]).toEqual([240, 60, 100]);
    // The values as written, in float32: the first test sample is one of the test file's rows.
    const row = Array.from(d.testX.subarray(0, 16));
    const rows = Array.from({ length: 150 }, (_, i) =>
      Array.from(Float32Array.from(test_.x.subarray(i * 16, (i + 1) * 16))),
    );
    expect(rows).toContainEqual(row);
    const { result } = fit(d, { kind: 'mlp', hidden: [16], activation: 'relu' });
    expect(result.finalMetrics.val_acc).toBeGreaterThan(0.8);
    expect(result.test!.test_acc).toBeGreaterThan(0.8);
  });

  it("one .npz with Keras's four keys; uint8 features are scaled to [0, 1]", () => {
    const dir = tmp();
    const n = 120;
    const x = Uint8Array.from({ length: n * 6 }, (_, i) => (i * 37) % 256);
    const y = Array.from({ length: n }, (_, i) => i % 2);
    const file = join(dir, 'data.npz');
    writeFileSync(
      file,
      zipSync({
        'x_train.npy': npy('|u1', [n, 6], x),
        'y_train.npy': npy('|u1', [n], y),
        'x_test.npy': npy('|u1', [n, 6], x),
        'y_test.npy': npy('|u1', [n], y),
      }),
    );
    const d = loadDataset(req(file, { trainSize: 100, validationSize: 20, testSize: 50 }));
    expect(d).toMatchObject({ shape: [6], numClasses: 2 });
    expect(Math.max(...d.trainX)).toBeLessThanOrEqual(1);
    expect(new Set(Array.from(d.testX, (v) => Math.round(v * 255))).size).toBeGreaterThan(10);
    expect(Array.from(d.testX).every((v) => Number.isInteger(Math.round(v * 255 * 1000) / 1000))).toBe(true);
  });

  it('regression: float targets train an mlp below the targets’ spread (val_rmse)', () => {
    const dir = tmp();
    // One linear relation: its first 400 samples train, the other 150 test.
    const all = linear(550, 5, 2);
    writeFileSync(join(dir, 'x_train.npy'), npy('<f4', [400, 5], all.x.subarray(0, 2000)));
    writeFileSync(join(dir, 'y_train.npy'), npy('<f8', [400], all.y.slice(0, 400)));
    writeFileSync(join(dir, 'x_test.npy'), npy('<f4', [150, 5], all.x.subarray(2000)));
    writeFileSync(join(dir, 'y_test.npy'), npy('<f8', [150], all.y.slice(400)));
    const d = loadDataset(req(dir, { task: 'regression' }));
    expect(d).toMatchObject({ task: 'regression', numClasses: 0, targetDim: 1 });
    const { result, evals } = fit(
      d,
      { kind: 'mlp', hidden: [32], activation: 'relu' },
      { training: { epochs: 8, batchSize: 32, evalEvery: 10 } },
    );
    expect(evals[0]!.valAcc).toBeNull();
    expect(evals[0]!.metrics!.val_rmse).toBeCloseTo(Math.sqrt(evals[0]!.valLoss), 9);
    expect(result.finalMetrics.val_rmse).toBeLessThan(0.5 * std(d.valY));
    expect(result.test!.test_rmse).toBeLessThan(0.5 * std(d.testY));
  });

  it('refuses what it would misread, naming the file and the fix', () => {
    const dir = tmp();
    const write = (name: string, bytes: Uint8Array) => writeFileSync(join(dir, `${name}.npy`), bytes);
    const good = () => {
      write('x_train', npy('<f4', [20, 2], new Float32Array(40)));
      write('y_train', npy('<i4', [20], new Int32Array(20)));
      write('x_test', npy('<f4', [20, 2], new Float32Array(40)));
      write('y_test', npy('<i4', [20], new Int32Array(20)));
    };
    const load = () => loadDataset(req(dir, { trainSize: 10, validationSize: 2, testSize: 5 }));
    good();
    expect(load().numClasses).toBe(1);
    write('x_train', npy('>f4', [20, 2], new Float32Array(40)));
    expect(load).toThrow(/x_train\.npy is big-endian \(>f4\)/);
    good();
    write('x_test', npy('<f4', [20, 2], new Float32Array(40), { fortran: true }));
    expect(load).toThrow(/x_test\.npy is in Fortran order/);
    good();
    write('x_train', npy('<f4', [20, 2], new Float32Array(40)).subarray(0, 150));
    expect(load).toThrow(/x_train\.npy is truncated: its shape \[20,2\] needs 40 values, it has 5/);
    write('x_train', npy('<f4', [20, 2], new Float32Array(40)).subarray(0, 40));
    expect(load).toThrow(/x_train\.npy is truncated inside its header/);
    good();
    write(
      'y_train',
      npy(
        '<f4',
        [20],
        Float32Array.from({ length: 20 }, () => 0.5),
      ),
    );
    expect(load).toThrow(/y_train: label 0\.5 at sample 0 is not a class index.*task "regression"/);
    good();
    write('y_test', npy('<i4', [19], new Int32Array(19)));
    expect(load).toThrow(/x_test has 20 samples but y_test has 19/);
    expect(() => loadDataset(req(join(dir, 'missing.npz')))).toThrow(/cannot read/);
    const npz = join(dir, 'three.npz');
    writeFileSync(
      npz,
      zipSync({
        'x_train.npy': npy('<f4', [2, 1], [1, 2]),
        'y_train.npy': npy('<i4', [2], [0, 1]),
        'x_test.npy': npy('<f4', [2, 1], [1, 2]),
      }),
    );
    expect(() => loadDataset(req(npz))).toThrow(
      /three\.npz has no 'y_test' array \(it has 'x_train', 'y_train', 'x_test'\)/,
    );
  });
});

describe('csv datasets', () => {
  it('one file with a header and class names: a label column by name, names numbered in sorted order', () => {
    const dir = tmp();
    const { x, y } = blobs(300, 4, 3, 5);
    const names = ['setosa', 'versicolor', 'virginica'];
    const lines = [
      'species,a,b,c,d',
      ...y.map((c, i) => [names[c], ...Array.from(x.subarray(i * 4, i * 4 + 4), (v) => v.toFixed(4))].join(',')),
    ];
    writeFileSync(join(dir, 'iris.csv'), `${lines.join('\n')}\n`);
    const d = loadDataset({
      name: 'csv',
      path: join(dir, 'iris.csv'),
      label: 'species',
      trainSize: 200,
      validationSize: 40,
      testSize: 80,
    });
    expect(d).toMatchObject({ task: 'classification', shape: [4], numClasses: 3 });
    expect([d.trainY.length, d.valY.length, d.testY.length]).toEqual([160, 40, 80]);
    const { result } = fit(d, { kind: 'mlp', hidden: [16], activation: 'relu' });
    expect(result.finalMetrics.val_acc).toBeGreaterThan(0.8);
  });

  it('a directory of train.csv and test.csv without a header: regression on the last column', () => {
    const dir = tmp();
    // One linear relation: 300 rows train, 100 test.
    const { x, y } = linear(400, 3, 7);
    const rows = y.map((t, i) =>
      [...Array.from(x.subarray(i * 3, i * 3 + 3), (v) => v.toFixed(5)), t.toFixed(5)].join(','),
    );
    writeFileSync(join(dir, 'train.csv'), rows.slice(0, 300).join('\n'));
    writeFileSync(join(dir, 'test.csv'), rows.slice(300).join('\n'));
    const d = loadDataset({
      name: 'csv',
      path: dir,
      task: 'regression',
      trainSize: 300,
      validationSize: 60,
      testSize: 100,
    });
    expect(d).toMatchObject({ task: 'regression', shape: [3], targetDim: 1 });
    const { result } = fit(
      d,
      { kind: 'mlp', hidden: [32], activation: 'relu' },
      { training: { epochs: 10, batchSize: 32, evalEvery: 20 } },
    );
    expect(result.finalMetrics.val_rmse).toBeLessThan(0.5 * std(d.valY));
    expect(result.test!.test_rmse).toBeLessThan(0.5 * std(d.testY));
  });

  it('names the row and column of a cell that is not a number, and the columns a missing label could be', () => {
    const dir = tmp();
    const file = join(dir, 'bad.csv');
    writeFileSync(file, 'a,b,label\n1,2,0\n3,x,1\n');
    expect(() => loadDataset({ name: 'csv', path: file, trainSize: 1, testSize: 1 })).toThrow(
      "bad.csv row 3, column 'b': 'x' is not a number",
    );
    writeFileSync(file, 'a,b,label\n1,2,0\n3,4,1\n');
    expect(() => loadDataset({ name: 'csv', path: file, label: 'class', trainSize: 1, testSize: 1 })).toThrow(
      "bad.csv has no column 'class' (its columns: 'a', 'b', 'label')",
    );
    writeFileSync(file, 'a,b,label\n1,2,0\n3,4\n');
    expect(() => loadDataset({ name: 'csv', path: file, trainSize: 1, testSize: 1 })).toThrow(
      /bad\.csv: Invalid Record Length: expect 3, got 2 on line 3/,
    );
  });
});

describe('the text task', () => {
  /** Sentences of a tiny grammar: structure a model can learn beyond byte frequencies. */
  function corpus(bytes: number, seed: number): string {
    const rng = createRng(seed);
    const pick = (xs: string[]) => xs[Math.floor(rng.next() * xs.length)]!;
    let s = '';
    while (s.length < bytes)
      s += `${pick(['the', 'a'])} ${pick(['cat', 'dog', 'bird'])} ${pick(['sat on', 'ran to', 'saw'])} ${pick(['the', 'a'])} ${pick(['mat', 'tree', 'house'])}. `;
    return s.slice(0, bytes);
  }
  /** Entropy of the bytes' frequencies, in nats: the loss of the best model that ignores context. */
  function unigramEntropy(text: string) {
    const counts = new Map<number, number>();
    const b = Buffer.from(text);
    for (const c of b) counts.set(c, (counts.get(c) ?? 0) + 1);
    return -[...counts.values()].reduce((a, n) => a + (n / b.length) * Math.log(n / b.length), 0);
  }

  it('windows of contextLength + 1 bytes; the test split is the last tenth of the file', () => {
    const dir = tmp();
    const text = corpus(11_000, 1);
    writeFileSync(join(dir, 'tiny.txt'), text);
    const d = loadDataset({
      name: 'text',
      path: join(dir, 'tiny.txt'),
      contextLength: 16,
      trainSize: 400,
      validationSize: 50,
      testSize: 40,
    });
    expect(d).toMatchObject({ task: 'lm', shape: [16], numClasses: 256, targetDim: 16 });
    expect([d.trainX.length / 16, d.valX.length / 16, d.testX.length / 16]).toEqual([350, 50, 40]);
    // Each window: the targets are the inputs shifted by one byte.
    for (const [x, y] of [
      [d.trainX, d.trainY],
      [d.testX, d.testY],
    ] as const) {
      for (let i = 0; i < 5; i++)
        expect(Array.from(x.subarray(i * 16 + 1, i * 16 + 16))).toEqual(Array.from(y.subarray(i * 16, i * 16 + 15)));
    }
    const tail = text.slice(Math.floor(text.length * 0.9));
    const head = text.slice(0, Math.floor(text.length * 0.9));
    const str = (a: ArrayLike<number>, i: number) =>
      Buffer.from(Array.from({ length: 16 }, (_, j) => a[i * 16 + j]!)).toString('latin1');
    for (let i = 0; i < 40; i++) expect(tail).toContain(str(d.testX, i));
    for (let i = 0; i < 20; i++) expect(head).toContain(str(d.trainX, i));
    expect(() =>
      loadDataset({ name: 'text', path: join(dir, 'tiny.txt'), contextLength: 16, trainSize: 1000, testSize: 40 }),
    ).toThrow(
      /tiny\.txt \(11000 bytes, contextLength 16\) has 618 training and 68 test windows; asked for 1000 and 40/,
    );
  });

  it('a gpt learns it: validation loss (nats per byte) falls below the unigram entropy of the text', () => {
    const dir = tmp();
    const text = corpus(40_000, 2);
    writeFileSync(join(dir, 'grammar.txt'), text);
    const d = loadDataset({
      name: 'text',
      path: join(dir, 'grammar.txt'),
      contextLength: 32,
      trainSize: 1000,
      validationSize: 100,
      testSize: 100,
    });
    const { result, evals } = fit(
      d,
      { kind: 'gpt', width: 32, depth: 1, heads: 2, mlpRatio: 2 },
      {
        training: { epochs: 3, batchSize: 32, evalEvery: 30 },
        baseLr: 0.01,
        schedule: { kind: 'cosine', warmup: { steps: 10 } },
      },
    );
    const h = unigramEntropy(text);
    expect(result.status).toBe('completed');
    expect(evals[0]!.metrics!.val_ppl).toBeCloseTo(Math.exp(evals[0]!.valLoss), 6);
    expect(result.finalValLoss!).toBeLessThan(h);
    expect(result.test!.test_loss).toBeLessThan(h);
  });
});

describe('lenet pooling', () => {
  it('lenet.pool "max" computes the forward pass by hand: 5×5 convolutions, 2×2 max pooling, sigmoid', async () => {
    const { createModel } = await import('./models');
    const tf = await import('@tensorflow/tfjs');
    const H = 16;
    const m = createModel(
      { kind: 'lenet', activation: 'sigmoid', pool: 'max' },
      { task: 'classification', shape: [H, H, 1], inputDim: H * H, numClasses: 10, targetDim: 1 },
      createRng(4),
    );
    const [k1, b1, k2, b2, w1, c1, w2, c2, w3, c3] = m.variables.map((v) => v.dataSync() as Float32Array);
    const x = Float32Array.from({ length: H * H }, (_, i) => Math.sin(i * 0.7) * 0.5 + 0.5);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    /** conv (kernel [5,5,cin,cout], HWC) + bias + sigmoid; padding 2 ('same') or 0 ('valid'). */
    const conv = (
      inp: Float32Array,
      h: number,
      cin: number,
      k: Float32Array,
      b: Float32Array,
      cout: number,
      pad: number,
    ) => {
      const oh = h + 2 * pad - 4;
      const out = new Float32Array(oh * oh * cout);
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < oh; j++)
          for (let o = 0; o < cout; o++) {
            let s = b[o]!;
            for (let di = 0; di < 5; di++)
              for (let dj = 0; dj < 5; dj++) {
                const ii = i + di - pad;
                const jj = j + dj - pad;
                if (ii < 0 || jj < 0 || ii >= h || jj >= h) continue;
                for (let c = 0; c < cin; c++)
                  s += inp[(ii * h + jj) * cin + c]! * k[((di * 5 + dj) * cin + c) * cout + o]!;
              }
            out[(i * oh + j) * cout + o] = sig(s);
          }
      return { out, h: oh };
    };
    const maxPool = (inp: Float32Array, h: number, ch: number) => {
      const oh = Math.floor(h / 2);
      const out = new Float32Array(oh * oh * ch);
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < oh; j++)
          for (let c = 0; c < ch; c++)
            out[(i * oh + j) * ch + c] = Math.max(
              ...[0, 1].flatMap((a) => [0, 1].map((bb) => inp[((2 * i + a) * h + 2 * j + bb) * ch + c]!)),
            );
      return { out, h: oh };
    };
    const fc = (inp: Float32Array, w: Float32Array, b: Float32Array, n: number, act: boolean) =>
      Float32Array.from({ length: n }, (_, o) => {
        const s = inp.reduce((a, v, i) => a + v * w[i * n + o]!, b[o]!);
        return act ? sig(s) : s;
      });
    let t = conv(x, H, 1, k1!, b1!, 6, 2);
    t = maxPool(t.out, t.h, 6);
    t = conv(t.out, t.h, 6, k2!, b2!, 16, 0);
    t = maxPool(t.out, t.h, 16);
    const logits = fc(fc(fc(t.out, w1!, c1!, 120, true), w2!, c2!, 84, true), w3!, c3!, 10, false);
    const got = tf.tidy(() => Array.from(m.forward(tf.tensor2d(x, [1, H * H])).dataSync()));
    got.forEach((v, i) => expect(v).toBeCloseTo(logits[i]!, 4));
    // Average pooling gives another answer: the option is not ignored.
    const avg = createModel(
      { kind: 'lenet', activation: 'sigmoid', pool: 'avg' },
      { task: 'classification', shape: [H, H, 1], inputDim: H * H, numClasses: 10, targetDim: 1 },
      createRng(4),
    );
    const other = tf.tidy(() => Array.from(avg.forward(tf.tensor2d(x, [1, H * H])).dataSync()));
    expect(Math.max(...other.map((v, i) => Math.abs(v - logits[i]!)))).toBeGreaterThan(1e-3);
    m.dispose();
    avg.dispose();
  });
});

describe('dropout', () => {
  it('changes training, not evaluation, and repeats exactly for a seed', async () => {
    const d = loadDataset({ name: 'synthetic', trainSize: 256, testSize: 64 });
    const run = (dropout: number, seed = 1) =>
      fit(
        d,
        { kind: 'mlp', hidden: [32], activation: 'relu', dropout },
        { seed, training: { epochs: 1, batchSize: 32, evalEvery: 4 } },
      );
    const none = run(0);
    const some = run(0.5);
    expect(some.updates[0]!.trainLoss).not.toBe(none.updates[0]!.trainLoss);
    expect(run(0.5).updates.map((u) => u.trainLoss)).toEqual(some.updates.map((u) => u.trainLoss));
    // Before any update, evaluation runs without dropout: both start from the same weights.
    const { createModel } = await import('./models');
    const { evaluate } = await import('./train');
    const a = createModel({ kind: 'mlp', hidden: [32], activation: 'relu', dropout: 0.5 }, d, createRng(1));
    const b = createModel({ kind: 'mlp', hidden: [32], activation: 'relu' }, d, createRng(1));
    expect(evaluate(a, d).val_loss).toBe(evaluate(b, d).val_loss);
    a.dispose();
    b.dispose();
  });
});
