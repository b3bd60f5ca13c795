// Sweeps over the models of real schedule studies, through the API and real workers: a ViT on a
// CIFAR-10-format directory (written here) and D2L's LeNet on Fashion-MNIST (Debian's files, when
// the dataset-fashion-mnist package is installed). A missing dataset fails at once, naming it.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lrSequence } from '@lrsweep/schedules';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, requirement, type apiClient, type Stack, startStack, writeCifar } from '@lrsweep/testkit';

const fashion = '/usr/share/datasets/fashion-mnist';

// Dataset paths in specs are relative to the workers' DATA_ROOT.
const dataRoot = mkdtempSync(join(tmpdir(), 'lrsweep-data-'));

describe('model sweeps end to end', () => {
  let stack: Stack;
  let api: ReturnType<typeof apiClient>;
  beforeAll(async () => {
    stack = await startStack('models', { workers: 2, env: { DATA_ROOT: dataRoot } });
    api = stack.client;
  });
  afterAll(async () => stack?.stop());

  const expectTrained = async (sweepId: string, T: number) => {
    const trials = (await api.get(`/v1/sweeps/${sweepId}/trials?limit=100`)).body.trials;
    for (const t of trials) {
      expect(t).toMatchObject({ status: 'completed', backend: 'wasm' });
      const rows = await query<{ lr: number }>(
        stack.db.url,
        'SELECT lr FROM update_metrics WHERE trial_id = $1 ORDER BY step',
        [t.id],
      );
      expect(rows.map((r) => r.lr)).toEqual(lrSequence(t.config.schedule, { baseLr: t.config.baseLr, totalSteps: T }));
      expect(Number.isFinite(t.finalValLoss)).toBe(true);
    }
    return trials;
  };

  it('a ViT on CIFAR-10 files, with schedule-free AdamW and gradient clipping', async () => {
    writeCifar(join(dataRoot, 'cifar'), 256, 64);
    const created = await api.post('/v1/sweeps', {
      name: 'vit-cifar',
      dataset: { name: 'cifar10', path: 'cifar', trainSize: 256, testSize: 64 },
      model: { kind: 'vit', patchSize: 8, width: 32, depth: 1, heads: 2, mlpRatio: 2 },
      optimizer: { kind: 'schedule_free_adamw' },
      training: { epochs: 2, batchSize: 64, evalEvery: 4, gradClipNorm: 1 },
      grid: { baseLr: [0.001, 0.003], schedule: [{ kind: 'constant', warmup: { steps: 2 } }], seeds: 1 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await api.waitForSweep(created.body.id, 120_000);
    const trials = await expectTrained(created.body.id, 8);
    const [checksums] = await query<{ n: number }>(
      stack.db.url,
      'SELECT count(DISTINCT dataset_checksum)::int AS n FROM trials WHERE sweep_id = $1',
      [created.body.id],
    );
    expect(checksums!.n).toBe(1);
    expect(trials).toHaveLength(2);
  });

  const fashionNeeded = requirement(
    'fashion-mnist',
    existsSync(join(fashion, 'train-images-idx3-ubyte.gz')),
    "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)",
  );
  it.skipIf(fashionNeeded.skip)("LeNet on Debian's Fashion-MNIST, SGD with Nesterov momentum and SWA", async () => {
    fashionNeeded.assert();
    const created = await api.post('/v1/sweeps', {
      name: 'lenet-fashion',
      dataset: { name: 'fashion-mnist', trainSize: 1126, validationSize: 102, testSize: 256 },
      model: { kind: 'lenet', activation: 'sigmoid' },
      optimizer: { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.0005 },
      training: { epochs: 1, batchSize: 64, evalEvery: 8, swaFraction: 0.5 },
      grid: {
        baseLr: [0.05, 0.2],
        schedule: [{ kind: 'cosine' }, { kind: 'multistep', milestones: [8, 12] }],
        seeds: 1,
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await api.waitForSweep(created.body.id, 120_000);
    await expectTrained(created.body.id, 16);
    const ranking = (await api.get(`/v1/sweeps/${created.body.id}/results`)).body.ranking;
    expect(ranking).toHaveLength(4);
  });

  it('a missing dataset directory fails the trial at once, naming the path', async () => {
    const created = await api.post('/v1/sweeps', {
      name: 'missing-data',
      dataset: { name: 'cifar10', path: 'nonexistent/cifar', trainSize: 64, testSize: 16 },
      model: { kind: 'cnn', channels: [4] },
      training: { epochs: 1, batchSize: 32, evalEvery: 2 },
      grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], seeds: 1 },
    });
    const sweep = await api.waitForSweep(created.body.id, 60_000);
    // No trial completed: the sweep failed (v1.1), and the data error was not retried.
    expect(sweep).toMatchObject({ status: 'failed', counts: { failed: 1 } });
    const [t] = (await api.get(`/v1/sweeps/${created.body.id}/trials`)).body.trials;
    expect(t).toMatchObject({ attempt: 1, errorCode: 'DATASET_INVALID', failures: 0 });
    expect(t.error).toContain(
      "dataset path 'nonexistent/cifar' does not exist under DATA_ROOT: put CIFAR-10's binary version",
    );
    expect(t.error).not.toContain(dataRoot);
  });

  it('a missing Fashion-MNIST path fails its trial with how to get the data set', async () => {
    const created = await api.post('/v1/sweeps', {
      name: 'missing-fashion',
      dataset: { name: 'fashion-mnist', path: 'no-such-fashion', trainSize: 64, testSize: 16 },
      model: { kind: 'mlp', hidden: [8] },
      training: { epochs: 1, batchSize: 32, evalEvery: 2 },
      grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], seeds: 1 },
    });
    expect(created.status).toBe(201);
    expect(await api.waitForSweep(created.body.id, 60_000)).toMatchObject({ status: 'failed' });
    const [t] = (await api.get(`/v1/sweeps/${created.body.id}/trials`)).body.trials;
    expect(t).toMatchObject({ attempt: 1, errorCode: 'DATASET_INVALID', failures: 0 });
    expect(t.error).toBe(
      "dataset path 'no-such-fashion' does not exist under DATA_ROOT: install Debian's dataset-fashion-mnist package on every worker (apt-get install dataset-fashion-mnist; it is read when dataset.path is not given), or put Fashion-MNIST's four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; gzipped or not) in a directory under the workers' DATA_ROOT and name it in dataset.path (relative to DATA_ROOT)",
    );
  });
});
