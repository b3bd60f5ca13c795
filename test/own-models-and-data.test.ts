// Models and data of the user's own, through the API and real workers: a Keras-format Layers
// model (under MODEL_ROOT) on an .npz that NumPy writes, CSV classification and regression, a
// directory of .npy files, and the text task's gpt in a WSD vs cosine vs constant sweep. Each
// trains, ranks, and records its provenance (checksum, paths relative to the roots, versions),
// in the trial view and the trials CSV. A model that does not fit the data fails naming its layer.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lrSequence } from '@lrsweep/schedules';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type apiClient,
  npyBytes,
  query,
  requirement,
  type Stack,
  startStack,
  writeKerasModel,
} from '@lrsweep/testkit';

const root = resolve(import.meta.dirname, '..');
const python = process.env.LRSWEEP_TORCH_PYTHON ?? join(root, '.venv-torch/bin/python');
const numpy = requirement(
  'numpy',
  existsSync(python),
  `NumPy in ${python}: python3.11 -m venv .venv-torch && .venv-torch/bin/pip install numpy (npm test does it), or set LRSWEEP_TORCH_PYTHON`,
);

const dataRoot = mkdtempSync(join(tmpdir(), 'lrsweep-data-'));
const modelRoot = mkdtempSync(join(tmpdir(), 'lrsweep-models-'));

/** Gaussian blobs in rows of `features` numbers (a learnable classification). */
function blobs(n: number, features: number, classes: number) {
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    y.push(c);
    x.push(Array.from({ length: features }, (_, j) => (j % classes === c ? 3 : 0) + Math.sin(i * 7.3 + j * 1.9)));
  }
  return { x, y };
}

describe('your own models and data, end to end', () => {
  let stack: Stack;
  let api: ReturnType<typeof apiClient>;
  beforeAll(async () => {
    stack = await startStack('own', { workers: 2, env: { DATA_ROOT: dataRoot, MODEL_ROOT: modelRoot } });
    api = stack.client;
  });
  afterAll(async () => stack?.stop());

  const run = async (spec: object) => {
    const created = await api.post('/v1/sweeps', spec);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const sweep = await api.waitForSweep(created.body.id, 180_000);
    const trials = (await api.get(`/v1/sweeps/${created.body.id}/trials?limit=100`)).body.trials;
    return { id: created.body.id as string, sweep, trials };
  };
  const ranked = async (id: string) => (await api.get(`/v1/sweeps/${id}/results`)).body;

  it.skipIf(numpy.skip)(
    'a Keras-format Layers model on an .npz NumPy wrote: trains, ranks, and records its provenance',
    async () => {
      numpy.assert();
      execFileSync(python, [
        '-c',
        `import numpy as np, sys
rng = np.random.default_rng(0)
def part(n):
    y = np.arange(n) % 10
    x = rng.normal(size=(n, 8, 8)).astype(np.float32) + (np.arange(64).reshape(8, 8)[None] % 10 == y[:, None, None]) * 3.0
    return x, y.astype(np.int64)
xt, yt = part(480); xs, ys = part(120)
np.savez_compressed(sys.argv[1], x_train=xt, y_train=yt, x_test=xs, y_test=ys)`,
        join(dataRoot, 'digits.npz'),
      ]);
      writeKerasModel(join(modelRoot, 'keras'), { inputs: 64, hidden: 32, outputs: 10, activation: 'softmax' });
      const { id, sweep, trials } = await run({
        name: 'layers-npz',
        dataset: { name: 'npy', path: 'digits.npz', trainSize: 480, validationSize: 96, testSize: 120 },
        model: { kind: 'layers', path: 'keras/model.json', loss: 'sparse_categorical_crossentropy' },
        optimizer: { kind: 'adam' },
        training: { epochs: 3, batchSize: 32, evalEvery: 6, gradClipNorm: 5 },
        grid: {
          baseLr: [0.003, 0.01],
          schedule: [{ kind: 'constant' }, { kind: 'cosine', warmup: { steps: { fraction: 0.1 } } }],
          seeds: 1,
        },
        objective: { metric: 'val_acc', mode: 'max', aggregate: 'final' },
      });
      expect(sweep.status).toBe('completed');
      for (const t of trials) {
        expect(t.status).toBe('completed');
        expect(t.final.val_acc).toBeGreaterThan(0.5);
        expect(t.test.test_acc).toBeGreaterThan(0.5);
        expect(t.provenance).toMatchObject({
          datasetPath: 'digits.npz',
          modelPath: 'keras/model.json',
          backend: 'wasm',
          datasetChecksum: expect.stringMatching(/^[0-9a-f]{64}$/),
          tfjsVersion: '4.22.0',
        });
        const rows = await query<{ lr: number }>(
          stack.db.url,
          'SELECT lr FROM update_metrics WHERE trial_id = $1 ORDER BY step',
          [t.id],
        );
        expect(rows.map((r) => r.lr)).toEqual(
          lrSequence(t.config.schedule, { baseLr: t.config.baseLr, totalSteps: 36 }),
        );
      }
      // The same samples for every trial: one checksum.
      expect(
        new Set(trials.map((t: { provenance: { datasetChecksum: string } }) => t.provenance.datasetChecksum)).size,
      ).toBe(1);
      const r = await ranked(id);
      expect(r.ranking).toHaveLength(4);
      const csv = await fetch(`${stack.api.url}/v1/sweeps/${id}/trials?format=csv`, {
        headers: { authorization: `Bearer ${stack.env.LRSWEEP_BOOTSTRAP_TOKEN}` },
      });
      expect(csv.headers.get('content-type')).toContain('text/csv');
      const [cols, ...lines] = parse(await csv.text()) as string[][];
      expect(cols!).toEqual(
        expect.arrayContaining([
          'trialId',
          'final_val_acc',
          'test_acc',
          'datasetChecksum',
          'datasetPath',
          'modelPath',
          'backend',
          'tfjsVersion',
          'lrsweepVersion',
        ]),
      );
      expect(lines).toHaveLength(4);
      const cell = (line: string[], name: string) => line[cols!.indexOf(name)];
      for (const line of lines) {
        expect(cell(line, 'modelPath')).toBe('keras/model.json');
        expect(cell(line, 'datasetChecksum')).toBe(trials[0].provenance.datasetChecksum);
      }
    },
  );

  it('CSV classification (class names) and regression (val_rmse) train and rank', async () => {
    mkdirSync(join(dataRoot, 'tables'), { recursive: true });
    const { x, y } = blobs(400, 6, 3);
    const names = ['alpha', 'beta', 'gamma'];
    writeFileSync(
      join(dataRoot, 'tables/classes.csv'),
      ['f1,f2,f3,f4,f5,f6,kind', ...x.map((r, i) => [...r.map((v) => v.toFixed(4)), names[y[i]!]].join(','))].join(
        '\n',
      ),
    );
    // price = 3·f1 − 2·f2 + f3 + noise, in its own column (not the last).
    const rows = x.map((r, i) => ({ r, price: 3 * r[0]! - 2 * r[1]! + r[2]! + 0.05 * Math.cos(i) }));
    writeFileSync(
      join(dataRoot, 'tables/prices.csv'),
      [
        'price,f1,f2,f3,f4,f5,f6',
        ...rows.map(({ r, price }) => [price.toFixed(4), ...r.map((v) => v.toFixed(4))].join(',')),
      ].join('\n'),
    );
    const common = {
      optimizer: { kind: 'adam' },
      training: { epochs: 4, batchSize: 32, evalEvery: 10 },
      model: { kind: 'mlp', hidden: [32] },
    };
    const cls = await run({
      name: 'csv-classes',
      ...common,
      training: { epochs: 6, batchSize: 32, evalEvery: 10 },
      dataset: {
        name: 'csv',
        path: 'tables/classes.csv',
        label: 'kind',
        trainSize: 300,
        validationSize: 60,
        testSize: 100,
      },
      grid: { baseLr: [0.01, 0.03], schedule: [{ kind: 'cosine' }], seeds: 2 },
    });
    expect(cls.sweep.status).toBe('completed');
    for (const t of cls.trials) expect(t.final.val_acc).toBeGreaterThan(0.8);
    expect((await ranked(cls.id)).ranking).toHaveLength(2);
    const reg = await run({
      name: 'csv-prices',
      ...common,
      training: { epochs: 8, batchSize: 32, evalEvery: 10 },
      dataset: {
        name: 'csv',
        path: 'tables/prices.csv',
        label: 'price',
        task: 'regression',
        trainSize: 300,
        validationSize: 60,
        testSize: 100,
      },
      grid: { baseLr: [0.001, 0.01], schedule: [{ kind: 'constant' }, { kind: 'linear' }], seeds: 1 },
      objective: { metric: 'val_rmse', aggregate: 'final' },
    });
    expect(reg.sweep.status).toBe('completed');
    const r = await ranked(reg.id);
    expect(r.objective).toMatchObject({ metric: 'val_rmse', mode: 'min' });
    expect(r.ranking).toHaveLength(4);
    // Ranked by RMSE, smallest first, each the mean of its trials' final val_rmse.
    const means = r.ranking.map((c: { mean: number }) => c.mean);
    expect(means).toEqual([...means].sort((a, b) => a - b));
    const spread = Math.sqrt(rows.reduce((a, { price }) => a + price ** 2, 0) / rows.length);
    expect(means[0]).toBeLessThan(0.3 * spread);
    for (const t of reg.trials) expect(t.test.test_rmse).toBeGreaterThan(0);
  });

  it('a directory of .npy files with uint8 images trains a LeNet with max pooling', async () => {
    const dir = join(dataRoot, 'npy-images');
    mkdirSync(dir, { recursive: true });
    const images = (n: number) => {
      const x = new Uint8Array(n * 16 * 16);
      const y = Array.from({ length: n }, (_, i) => i % 4);
      for (let i = 0; i < n; i++)
        for (let p = 0; p < 256; p++)
          x[i * 256 + p] = (Math.floor(p / 64) === y[i] ? 200 : 30) + ((i * 13 + p * 7) % 40);
      return { x, y };
    };
    const a = images(256);
    const b = images(64);
    writeFileSync(join(dir, 'x_train.npy'), npyBytes('|u1', [256, 16, 16], a.x));
    writeFileSync(join(dir, 'y_train.npy'), npyBytes('<i8', [256], a.y));
    writeFileSync(join(dir, 'x_test.npy'), npyBytes('|u1', [64, 16, 16], b.x));
    writeFileSync(join(dir, 'y_test.npy'), npyBytes('<i8', [64], b.y));
    const { id, sweep, trials } = await run({
      name: 'npy-lenet',
      dataset: { name: 'npy', path: 'npy-images', trainSize: 256, validationSize: 64, testSize: 64 },
      model: { kind: 'lenet', activation: 'relu', pool: 'max' },
      optimizer: { kind: 'adam' },
      training: { epochs: 2, batchSize: 32, evalEvery: 6 },
      grid: {
        baseLr: [0.003],
        schedule: [{ kind: 'constant' }, { kind: 'step', stepSize: { epochs: 1 }, gamma: 0.1 }],
        seeds: 1,
      },
    });
    expect(sweep.status).toBe('completed');
    for (const t of trials) expect(t.provenance.datasetPath).toBe('npy-images');
    // stepSize { epochs: 1 } is resolved at expansion: 6 updates per epoch.
    expect(trials.map((t: { config: { schedule: { stepSize?: number } } }) => t.config.schedule.stepSize)).toContain(6);
    expect((await ranked(id)).ranking).toHaveLength(2);
  });

  it('the text task: a gpt sweep of WSD vs cosine vs constant reports val_loss (nats per byte) and val_ppl', async () => {
    const words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'dog', 'ran', 'to', 'tree'];
    let text = '';
    for (let i = 0; text.length < 30_000; i++)
      text += `${words[(i * 7) % 10]} ${words[(i * 3 + 1) % 10]} ${words[(i * i) % 10]}. `;
    writeFileSync(join(dataRoot, 'words.txt'), text);
    const { id, sweep, trials } = await run({
      name: 'gpt-text',
      dataset: {
        name: 'text',
        path: 'words.txt',
        contextLength: 32,
        vocab: 'bytes',
        trainSize: 512,
        validationSize: 64,
        testSize: 64,
      },
      model: { kind: 'gpt', width: 32, depth: 1, heads: 2, mlpRatio: 2 },
      optimizer: { kind: 'adamw' },
      training: { epochs: 2, batchSize: 32, evalEvery: 8 },
      grid: {
        baseLr: [0.01],
        schedule: [
          { kind: 'constant', warmup: { steps: 3 } },
          { kind: 'cosine', warmup: { steps: 3 } },
          { kind: 'wsd', decayFraction: 0.2, warmup: { steps: 3 } },
        ],
        seeds: 1,
      },
      objective: { metric: 'val_loss', aggregate: 'final' },
    });
    expect(sweep.status).toBe('completed');
    for (const t of trials) {
      expect(t.final.val_ppl).toBeCloseTo(Math.exp(t.final.val_loss), 5);
      // Below a uniform guess over the bytes (ln 256): it learned.
      expect(t.final.val_loss).toBeLessThan(Math.log(256) / 2);
      expect(t.test.test_ppl).toBeGreaterThan(1);
    }
    expect((await ranked(id)).ranking).toHaveLength(3);
  });

  it('a model that does not fit the data fails at once, naming its layer; a model outside MODEL_ROOT is refused', async () => {
    writeKerasModel(join(modelRoot, 'small'), { inputs: 10, hidden: 4, outputs: 10, activation: 'softmax' });
    symlinkSync('/etc', join(modelRoot, 'escape'));
    const base = {
      dataset: { name: 'synthetic', trainSize: 128, testSize: 32 },
      training: { epochs: 1, batchSize: 32, evalEvery: 2 },
      grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], seeds: 1 },
    };
    const misfit = await run({
      name: 'misfit',
      ...base,
      model: { kind: 'layers', path: 'small/model.json', loss: 'sparse_categorical_crossentropy' },
    });
    expect(misfit.sweep.status).toBe('failed');
    expect(misfit.trials[0]).toMatchObject({ errorCode: 'MODEL_INVALID', attempt: 1, failures: 0 });
    expect(misfit.trials[0].error).toContain("layer 'dense_in' takes inputs of shape [10]");
    expect(misfit.trials[0].error).toContain("the dataset's samples are [8, 8, 1] (64 values)");
    const outside = await run({
      name: 'outside',
      ...base,
      model: { kind: 'layers', path: 'escape/passwd', loss: 'sparse_categorical_crossentropy' },
    });
    expect(outside.trials[0]).toMatchObject({ errorCode: 'MODEL_INVALID' });
    expect(outside.trials[0].error).toContain("model path 'escape/passwd' leaves MODEL_ROOT");
    expect(outside.trials[0].error).not.toContain(modelRoot);
  });
});
