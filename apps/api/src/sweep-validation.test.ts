// Bad input answers 400 (413 for the body) naming the field, and creates no sweep, trial or job.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, createApiHarness } from './test-harness';
import { buildApp } from './app';

const valid = () => ({
  name: 'valid',
  dataset: { name: 'mnist', trainSize: 800, testSize: 200 },
  model: { kind: 'mlp', hidden: [16] },
  optimizer: { kind: 'adam' },
  training: { epochs: 1, batchSize: 100, evalEvery: 4 },
  grid: {
    baseLr: [0.001, 0.01],
    schedule: [{ kind: 'constant' }, { kind: 'cosine', warmup: { steps: [0, 2] } }],
    seeds: 2,
  },
  objective: { metric: 'val_loss', mode: 'min', aggregate: 'final' },
});
type Spec = ReturnType<typeof valid> & Record<string, unknown>;
const edit = (f: (s: any) => void) => {
  const s = valid() as Spec;
  f(s);
  return s;
};

describe('POST /v1/sweeps rejects bad input', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await createApiHarness('val', { maxTrials: 500 });
  });
  afterAll(async () => h?.close());

  const nothingCreated = async () => {
    expect(await h.handle.prisma.sweep.count()).toBe(0);
    expect(await h.handle.prisma.trial.count()).toBe(0);
    expect(await h.jobs.count()).toBe(0);
  };

  const cases: [string, string, unknown][] = [
    ['unknown schedule kind', 'grid.schedule[1].kind', edit((s) => (s.grid.schedule[1] = { kind: 'cosinus' }))],
    ['unknown top-level key', 'extra', edit((s) => (s.extra = 1))],
    ['unknown schedule key', 'grid.schedule[0].stepSize', edit((s) => (s.grid.schedule[0].stepSize = 3))],
    ['unknown key in warmup', 'grid.schedule[1].warmup.step', edit((s) => (s.grid.schedule[1].warmup.step = 3))],
    ['negative base LR', 'grid.baseLr[1]', edit((s) => (s.grid.baseLr = [0.001, -0.1]))],
    ['zero base LR', 'grid.baseLr[0]', edit((s) => (s.grid.baseLr = [0]))],
    ['empty base LR list', 'grid.baseLr', edit((s) => (s.grid.baseLr = []))],
    ['empty schedule list', 'grid.schedule', edit((s) => (s.grid.schedule = []))],
    [
      'empty list inside a schedule',
      'grid.schedule[1].warmup.steps',
      edit((s) => (s.grid.schedule[1].warmup.steps = [])),
    ],
    ['duplicate base LRs', 'grid.baseLr[1]', edit((s) => (s.grid.baseLr = [0.001, 0.001]))],
    ['duplicate seeds', 'grid.seeds[1]', edit((s) => (s.grid.seeds = [3, 3]))],
    [
      'duplicate values inside a schedule',
      'grid.schedule[1].warmup.steps',
      edit((s) => (s.grid.schedule[1].warmup.steps = [2, 2])),
    ],
    ['a schedule repeated across entries', 'grid.schedule[2]', edit((s) => s.grid.schedule.push({ kind: 'constant' }))],
    ['too many trials', 'grid', edit((s) => (s.grid.seeds = 200))],
    ['name over 200 characters', 'name', edit((s) => (s.name = 'x'.repeat(201)))],
    ['empty name', 'name', edit((s) => (s.name = ''))],
    ['epochs over 1000', 'training.epochs', edit((s) => (s.training.epochs = 1001))],
    ['batch size over 65536', 'training.batchSize', edit((s) => (s.training.batchSize = 65_537))],
    [
      'a grid list over 1000 values',
      'grid.baseLr',
      edit((s) => (s.grid.baseLr = Array.from({ length: 1001 }, (_, i) => (i + 1) * 1e-5))),
    ],
    [
      'a schedule list over 1000 values',
      'grid.schedule[1].warmup.steps',
      edit((s) => (s.grid.schedule[1].warmup.steps = Array.from({ length: 1001 }, (_, i) => i))),
    ],
    ['a dataset larger than the dataset', 'dataset.trainSize', edit((s) => (s.dataset.trainSize = 9900))],
    ['base LR as a string', 'grid.baseLr[0]', edit((s) => (s.grid.baseLr = ['0.001']))],
    ['epochs as a string', 'training.epochs', edit((s) => (s.training.epochs = '3'))],
    ['fractional batch size', 'training.batchSize', edit((s) => (s.training.batchSize = 10.5))],
    ['seeds of the wrong type', 'grid.seeds', edit((s) => (s.grid.seeds = 'three'))],
    [
      'a test metric as the objective',
      'objective.metric',
      edit((s) => (s.objective = { metric: 'test_loss', mode: 'min', aggregate: 'final' })),
    ],
    [
      'a metric the built-in trainer does not report',
      'objective.metric',
      edit((s) => (s.objective = { metric: 'val_bleu', mode: 'max', aggregate: 'final' })),
    ],
    [
      'an unknown metric without a mode',
      'objective.mode',
      edit((s) => (s.objective = { metric: 'val_wibble', aggregate: 'final' })),
    ],
    [
      'a metric name out of the pattern',
      'objective.metric',
      edit((s) => (s.objective = { metric: 'Val-Loss', mode: 'min', aggregate: 'final' })),
    ],
    [
      'a validation split that leaves nothing to train',
      'dataset.validationSize',
      edit((s) => (s.dataset.validationSize = 800)),
    ],
    ['a negative validation size', 'dataset.validationSize', edit((s) => (s.dataset.validationSize = -1))],
    ['a fractional split seed', 'dataset.splitSeed', edit((s) => (s.dataset.splitSeed = 1.5))],
    ['totalSteps on the built-in runner', 'training.totalSteps', edit((s) => (s.training.totalSteps = 100))],
    ['grid.config on the built-in runner', 'grid.config', edit((s) => (s.grid.config = { wd: [0, 0.1] }))],
    [
      'an external runner without a horizon',
      'training.totalSteps',
      edit((s) => (s.runner = { kind: 'external', pool: 'torch' })),
    ],
    ['an unknown runner kind', 'runner.kind', edit((s) => (s.runner = { kind: 'slurm', pool: 'x' }))],
    ['a pool name out of the pattern', 'runner.pool', edit((s) => (s.runner = { kind: 'builtin', pool: 'GPU pool' }))],
    ['grid missing', 'grid', edit((s) => delete s.grid)],
    ['a bad schedule parameter', 'grid.schedule[1].minFactor', edit((s) => (s.grid.schedule[1].minFactor = 2))],
    [
      'a warmup longer than training',
      'grid.schedule[1].warmup.steps',
      edit((s) => (s.grid.schedule[1].warmup.steps = [0, 8])),
    ],
    ['an unknown model kind', 'model.kind', edit((s) => (s.model = { kind: 'transformer' }))],
    ['an unknown objective metric', 'objective.metric', edit((s) => (s.objective.metric = 'loss'))],
    // Models and data of the user's own (the workers check the files; the API what it can see).
    [
      'a layers model whose path leaves MODEL_ROOT',
      'model.path',
      edit(
        (s) => (s.model = { kind: 'layers', path: '../models/model.json', loss: 'sparse_categorical_crossentropy' }),
      ),
    ],
    [
      'a layers model with an absolute path',
      'model.path',
      edit((s) => (s.model = { kind: 'layers', path: '/etc/model.json', loss: 'sparse_categorical_crossentropy' })),
    ],
    [
      'a layers model without its loss',
      'model.loss',
      edit((s) => (s.model = { kind: 'layers', path: 'm/model.json' })),
    ],
    [
      'a loss Keras has not',
      'model.loss',
      edit((s) => (s.model = { kind: 'layers', path: 'm/model.json', loss: 'hinge' })),
    ],
    [
      'mse on class labels',
      'model.loss',
      edit((s) => (s.model = { kind: 'layers', path: 'm/model.json', loss: 'mse' })),
    ],
    [
      'an npy dataset without a path',
      'dataset.path',
      edit((s) => (s.dataset = { name: 'npy', trainSize: 100, testSize: 10 })),
    ],
    [
      'a csv path that leaves DATA_ROOT',
      'dataset.path',
      edit((s) => (s.dataset = { name: 'csv', path: 'a/../../b.csv', trainSize: 100, testSize: 10 })),
    ],
    ['a label column on a dataset that has none', 'dataset.label', edit((s) => (s.dataset.label = 'y'))],
    ['a regression of mnist', 'dataset.task', edit((s) => (s.dataset.task = 'regression'))],
    [
      'a regression objective on classes',
      'objective.metric',
      edit((s) => (s.objective = { metric: 'val_rmse', mode: 'min', aggregate: 'final' })),
    ],
    [
      'a regression trained by a convnet',
      'model.kind',
      edit(
        (s) => (
          (s.dataset = { name: 'csv', path: 'h.csv', task: 'regression', trainSize: 100, testSize: 10 }),
          (s.model = { kind: 'cnn' })
        ),
      ),
    ],
    [
      'the text task without contextLength',
      'dataset.contextLength',
      edit(
        (s) => (
          (s.dataset = { name: 'text', path: 'a.txt', trainSize: 100, testSize: 10 }), (s.model = { kind: 'gpt' })
        ),
      ),
    ],
    [
      'the text task on an mlp',
      'model.kind',
      edit((s) => (s.dataset = { name: 'text', path: 'a.txt', contextLength: 16, trainSize: 100, testSize: 10 })),
    ],
    ['a gpt on images', 'model.kind', edit((s) => (s.model = { kind: 'gpt' }))],
    [
      "a gpt whose context is not the dataset's",
      'model.contextLength',
      edit(
        (s) => (
          (s.dataset = { name: 'text', path: 'a.txt', contextLength: 16, trainSize: 100, testSize: 10 }),
          (s.model = { kind: 'gpt', contextLength: 32 })
        ),
      ),
    ],
    [
      'a gpt width its heads do not divide',
      'model.heads',
      edit(
        (s) => (
          (s.dataset = { name: 'text', path: 'a.txt', contextLength: 16, trainSize: 100, testSize: 10 }),
          (s.model = { kind: 'gpt', width: 30, heads: 4 })
        ),
      ),
    ],
    [
      'a text objective of accuracy',
      'objective.metric',
      edit(
        (s) => (
          (s.dataset = { name: 'text', path: 'a.txt', contextLength: 16, trainSize: 100, testSize: 10 }),
          (s.model = { kind: 'gpt' }),
          (s.objective = { metric: 'val_acc', mode: 'max', aggregate: 'final' })
        ),
      ),
    ],
    ['dropout of 1', 'model.dropout', edit((s) => (s.model.dropout = 1))],
    ['an unknown lenet pooling', 'model.pool', edit((s) => (s.model = { kind: 'lenet', pool: 'min' }))],
  ];

  it.each(cases)('%s → 400 naming %s', async (_name, path, body) => {
    const res = await h.inject({ method: 'POST', url: '/v1/sweeps', payload: body as object });
    expect(res.statusCode, res.body).toBe(400);
    const err = res.json();
    expect(err.code).toBe('SPEC_INVALID');
    expect(err.issues.map((i: { path: string }) => i.path)).toContain(path);
    expect(err.message).toContain(path);
    await nothingCreated();
  });

  it('malformed JSON → 400 with its own code', async () => {
    const res = await h.inject({
      method: 'POST',
      url: '/v1/sweeps',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": "x",',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'MALFORMED_JSON' });
    await nothingCreated();
  });

  it('a body over 1 MB → 413', async () => {
    const body = edit((s) => (s.name = 'x'.repeat(1_100_000)));
    const res = await h.inject({ method: 'POST', url: '/v1/sweeps', payload: body });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'BODY_TOO_LARGE' });
    await nothingCreated();
  });

  it('the default limit is 10 000 trials', async () => {
    const a = await buildApp({ db: h.handle.prisma, redis: h.redis, queue: h.queue });
    const res = await a.inject({
      method: 'POST',
      url: '/v1/sweeps',
      headers: { authorization: `Bearer ${h.token}` },
      payload: edit((s) => {
        s.grid.baseLr = Array.from({ length: 1000 }, (_, i) => (i + 1) * 1e-5);
        s.grid.schedule = [{ kind: 'constant' }];
        s.grid.seeds = 11;
      }),
    });
    await a.close();
    expect(res.statusCode).toBe(400);
    expect(res.json().issues).toEqual([
      { path: 'grid', message: 'the grid makes 11000 trials, more than the limit of 10000' },
    ]);
    await nothingCreated();
  });

  it('specs of the new models and data are accepted, their lengths resolved', async () => {
    const ok = [
      edit(
        (s) => (
          (s.dataset = {
            name: 'text',
            path: 'corpus/tiny.txt',
            contextLength: 32,
            vocab: 'bytes',
            trainSize: 500,
            testSize: 50,
          }),
          (s.model = { kind: 'gpt', width: 32, depth: 1, heads: 2 }),
          (s.objective = { metric: 'val_ppl', aggregate: 'final' })
        ),
      ),
      edit(
        (s) => (
          (s.dataset = {
            name: 'csv',
            path: 'houses.csv',
            label: 'price',
            task: 'regression',
            trainSize: 500,
            testSize: 50,
          }),
          (s.model = { kind: 'layers', path: 'm/model.json', loss: 'mse' }),
          (s.objective = { metric: 'val_rmse', aggregate: 'best' })
        ),
      ),
      edit(
        (s) => (
          (s.dataset = { name: 'npy', path: 'mnist.npz', trainSize: 500, testSize: 50 }),
          (s.model = { kind: 'lenet', pool: 'max' })
        ),
      ),
    ];
    for (const body of ok) {
      const res = await h.inject({ method: 'POST', url: '/v1/sweeps/validate', payload: body });
      expect(res.statusCode, res.body).toBe(200);
    }
  });

  it('a valid spec is accepted (the same app, so the rejections above are not blanket)', async () => {
    const res = await h.inject({ method: 'POST', url: '/v1/sweeps', payload: valid() });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ trialCount: 12, configCount: 6, totalSteps: 8 });
    expect(await h.handle.prisma.trial.count()).toBe(12);
    expect(await h.jobs.count()).toBe(12);
  });
});
