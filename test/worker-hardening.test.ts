// The holes a red team found in the workers (issue "A service that holds under attack"), through
// real API and worker processes: a trial too big for the wasm heap poisons nothing; datasets are
// confined to DATA_ROOT and never served from another directory's cache; a frozen Redis makes the
// worker unhealthy; no checkpoint outlives its trial.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiClient,
  bootstrapToken,
  createTestDatabase,
  deletePrefix,
  eventually,
  query,
  redisUrl,
  type RunningProcess,
  startApi,
  startApp,
  startOwnRedis,
  startWorker,
  type TestDatabase,
  uniquePrefix,
  writeCifar,
  tinySpec,
} from '@lrsweep/testkit';

const healthOf = async (w: RunningProcess) => {
  const line = await w.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('worker health at'));
  const url = String(line.msg).replace('worker health at ', '');
  return async () => {
    const r = await fetch(url);
    return {
      status: r.status,
      body: (await r.json()) as { consuming: boolean; checks: Record<string, string>; rssMb: number },
    };
  };
};

describe('workers under attack', () => {
  let db: TestDatabase;
  const prefix = uniquePrefix();
  const dataRoot = mkdtempSync(join(tmpdir(), 'lrsweep-data-'));
  const outside = mkdtempSync(join(tmpdir(), 'lrsweep-outside-'));
  const checkpointDir = mkdtempSync(join(tmpdir(), 'lrsweep-ckpt-'));
  const procs: RunningProcess[] = [];
  let env: Record<string, string>;
  let api: ReturnType<typeof apiClient>;
  let worker: RunningProcess;

  const run = async (body: object) => {
    const created = await api.post('/v1/sweeps', body);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const sweep = await api.waitForSweep(created.body.id, 120_000);
    const { trials } = (await api.get(`/v1/sweeps/${created.body.id}/trials`)).body;
    return { sweep, trials };
  };
  const cifar = (name: string, path: string) => ({
    name,
    dataset: { name: 'cifar10', path, trainSize: 64, validationSize: 0, testSize: 16 },
    model: { kind: 'mlp', hidden: [8] },
    training: { epochs: 1, batchSize: 32, evalEvery: 2 },
    grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], seeds: 1 },
  });

  beforeAll(async () => {
    db = await createTestDatabase('whard');
    env = {
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      LRSWEEP_BOOTSTRAP_TOKEN: bootstrapToken,
      DATA_ROOT: dataRoot,
      CHECKPOINT_DIR: checkpointDir,
      CHECKPOINT_EVERY: '10',
      LRSWEEP_BACKEND: 'wasm',
      METRICS_FLUSH_MS: '100',
    };
    const a = await startApi(env);
    procs.push(a);
    api = apiClient(a.url, bootstrapToken);
    // A slot budget past any estimate: the poison trial must reach the wasm heap and fail there
    // (the budget's own refusal before training is test/slot-memory.test.ts).
    worker = await startWorker({
      ...env,
      WORKER_ID: 'hard-1',
      WORKER_HEALTH_PORT: '0',
      WORKER_SLOT_MEMORY_MB: '100000000',
    });
    procs.push(worker);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await db?.drop();
    await deletePrefix(prefix);
  });

  it('a trial too big for the wasm heap fails alone, with a resource error; the worker stays healthy and the next trial trains', async () => {
    const health = await healthOf(worker);
    const { sweep, trials } = await run(
      tinySpec({
        name: 'poison',
        dataset: { trainSize: 9000, validationSize: 900, testSize: 100 },
        model: { kind: 'cnn', channels: [512] },
        training: { batchSize: 8192, evalEvery: 10 },
        grid: { baseLr: [0.001] },
      }),
    );
    expect(sweep.status).toBe('failed');
    expect(trials[0]).toMatchObject({ status: 'failed', errorCode: 'RESOURCE_EXHAUSTED', failures: 0, attempt: 1 });
    expect(trials[0].error).toContain('needs more memory than the wasm backend has');
    // The next trials on the same worker (and slot) train as if nothing had happened.
    const next = await run(
      tinySpec({
        name: 'after-poison',
        dataset: { trainSize: 660, validationSize: 60, testSize: 100 },
        training: { batchSize: 60, evalEvery: 5 },
        grid: { baseLr: [0.001, 0.01], seeds: 2 },
      }),
    );
    expect(next.sweep).toMatchObject({ status: 'completed', counts: { completed: 4, failed: 0 } });
    expect(new Set(next.trials.map((t: { workerId: string }) => t.workerId))).toEqual(new Set(['hard-1']));
    const h = await health();
    expect(h).toMatchObject({ status: 200, body: { consuming: true } });
    // The poisoned backend's memory went with its thread.
    expect(h.body.rssMb).toBeLessThan(2000);
  });

  it("reads each directory's own samples, never another's, and fails a missing one", async () => {
    writeCifar(join(dataRoot, 'a'), 64, 16, 0);
    writeCifar(join(dataRoot, 'b'), 64, 16, 101);
    const a = await run(cifar('dir-a', 'a'));
    const b = await run(cifar('dir-b', 'b'));
    expect([a.sweep.status, b.sweep.status]).toEqual(['completed', 'completed']);
    const sums = await query<{ name: string; checksum: string }>(
      db.url,
      "SELECT s.name, t.dataset_checksum AS checksum FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE s.name IN ('dir-a', 'dir-b') ORDER BY s.name",
    );
    expect(sums).toHaveLength(2);
    expect(sums[0]!.checksum).not.toBe(sums[1]!.checksum);
    // Same dataset name and sizes, a directory that does not exist: the trial fails, never served a's samples.
    const gone = await run(cifar('dir-gone', 'gone'));
    expect(gone.trials[0]).toMatchObject({ status: 'failed', errorCode: 'DATASET_INVALID' });
    expect(gone.trials[0].error).toBe(
      "dataset path 'gone' does not exist under DATA_ROOT: put CIFAR-10's binary version (data_batch_1.bin … data_batch_5.bin and test_batch.bin) in a directory under the workers' DATA_ROOT and name it in dataset.path (relative to DATA_ROOT)",
    );
  });

  it('keeps every path inside DATA_ROOT: the API refuses absolute and climbing paths, the worker symlinks out of it, and no answer shows a worker path', async () => {
    for (const path of [outside, '../x', 'a/../../x', 'C:/data']) {
      const r = await api.post('/v1/sweeps', cifar('bad-path', path));
      expect(r.status, path).toBe(400);
      expect(r.body.issues).toEqual([expect.objectContaining({ path: 'dataset.path' })]);
    }
    writeCifar(join(outside, 'secret'), 64, 16, 7);
    symlinkSync(join(outside, 'secret'), join(dataRoot, 'escape'));
    const escaped = await run(cifar('escape', 'escape'));
    expect(escaped.trials[0]).toMatchObject({ status: 'failed', errorCode: 'DATASET_INVALID' });
    expect(escaped.trials[0].error).toBe("dataset path 'escape' leaves DATA_ROOT");
    // A directory that exists but holds no CIFAR files: the message names them relative to the root.
    mkdirSync(join(dataRoot, 'empty'));
    const empty = await run(cifar('empty', 'empty'));
    expect(empty.trials[0].error).toContain('missing empty/data_batch_1.bin');
    for (const t of [...escaped.trials, ...empty.trials]) {
      expect(t.error).not.toContain(dataRoot);
      expect(t.error).not.toContain(outside);
    }
  });

  it('leaves no checkpoint behind a cancelled trial, and sweeps what a crash left', async () => {
    const created = await api.post(
      '/v1/sweeps',
      tinySpec({
        name: 'cancel-ckpt',
        dataset: { trainSize: 3300, validationSize: 300, testSize: 100 },
        model: { hidden: [64] },
        training: { epochs: 20, batchSize: 20, evalEvery: 100 },
        grid: { baseLr: [0.001] },
      }),
    );
    const [trial] = (await api.get(`/v1/sweeps/${created.body.id}/trials`)).body.trials;
    // This deployment's namespace: the id its first worker wrote.
    const namespace = (await query<{ id: string }>(db.url, 'SELECT id::text AS id FROM deployment'))[0]!.id;
    const ns = join(checkpointDir, namespace);
    await eventually(
      'a checkpoint on disk',
      async () => existsSync(join(ns, trial.id)) && readdirSync(join(ns, trial.id)).length > 0,
      60_000,
      100,
    );
    expect((await api.post(`/v1/sweeps/${created.body.id}/cancel`)).status).toBe(200);
    await eventually('its checkpoints removed', async () => !existsSync(join(ns, trial.id)), 20_000, 100);

    // A crash between a trial's end and its clean-up leaves folders: the next worker to start sweeps
    // them. A folder no trial of this database ever had is another deployment's (or one about to be
    // recorded) until it is a week old; nothing outside the namespace is touched at all.
    const finished = (
      await query<{ id: string }>(db.url, "SELECT id FROM trials WHERE status IN ('completed', 'failed') LIMIT 1")
    )[0]!.id;
    const [unknownYoung, unknownOld] = [randomUUID(), randomUUID()];
    for (const folder of [
      join(ns, finished),
      join(ns, unknownYoung),
      join(ns, unknownOld),
      join(checkpointDir, finished),
    ]) {
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, 'a1-s10.ckpt'), 'left over');
      writeFileSync(join(folder, 'a1-s20.ckpt.123.tmp'), 'half written');
    }
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600_000);
    for (const n of readdirSync(join(ns, unknownOld))) utimesSync(join(ns, unknownOld, n), eightDaysAgo, eightDaysAgo);
    const sweeper = await startWorker({ ...env, WORKER_ID: 'sweeper', WORKER_POOLS: 'nothing-here' });
    procs.push(sweeper);
    expect(readdirSync(ns)).toEqual([unknownYoung]);
    expect(readdirSync(join(ns, unknownYoung)).sort()).toEqual(['a1-s10.ckpt', 'a1-s20.ckpt.123.tmp']);
    expect(readdirSync(checkpointDir).sort()).toEqual([finished, namespace].sort());
    expect(readdirSync(join(checkpointDir, finished)).sort()).toEqual(['a1-s10.ckpt', 'a1-s20.ckpt.123.tmp']);
    await sweeper.stop();
  });

  it('reports unhealthy while its Redis is frozen, and healthy again once it answers', async () => {
    const own = await startOwnRedis();
    try {
      const w = await startWorker({ ...env, REDIS_URL: own.url, WORKER_ID: 'frozen', WORKER_HEALTH_PORT: '0' });
      procs.push(w);
      const health = await healthOf(w);
      expect((await health()).status).toBe(200);
      own.freeze();
      const down = await eventually(
        'unhealthy',
        async () => {
          const h = await health();
          return h.status === 503 ? h : null;
        },
        15_000,
        200,
      );
      expect(down.body).toMatchObject({ consuming: false, checks: { redis: 'timeout' } });
      own.thaw();
      await eventually('healthy again', async () => (await health()).status === 200, 30_000, 200);
      await w.stop();
    } finally {
      own.thaw();
      await own.stop();
    }
  });

  it('says "connected" only once Postgres and Redis answer, and retries with backoff until then', async () => {
    const own = await startOwnRedis();
    await own.stop();
    const w = startApp('worker', { ...env, REDIS_URL: own.url, WORKER_ID: 'late-redis' });
    procs.push(w);
    try {
      // Redis is down: the worker waits, each retry later than the one before, and claims nothing.
      const waits = await eventually(
        'three waits',
        async () => {
          const l = w.lines.filter((x) => x.msg === 'waiting for Redis');
          return l.length >= 3 ? l : null;
        },
        20_000,
        100,
      );
      const delays = waits.map((l) => Number(l.retryInMs));
      expect(delays.slice(0, 3)).toEqual([250, 500, 1000]);
      expect(w.lines.some((l) => l.msg === 'connected to Postgres and Redis' || l.msg === 'worker started')).toBe(
        false,
      );
      await own.start();
      await w.waitFor((l) => l.msg === 'connected to Postgres and Redis', 20_000);
      await w.waitFor((l) => l.msg === 'worker started', 20_000);
      const connectedAt = w.lines.findIndex((l) => l.msg === 'connected to Postgres and Redis');
      expect(w.lines.slice(0, connectedAt).every((l) => l.msg !== 'worker started')).toBe(true);
    } finally {
      await w.stop();
      await own.stop();
    }
  }, 60_000);
});
