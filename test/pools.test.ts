// Two worker pools with a worker each (the fleet issue): each pool's trials run only on its own
// workers, and each pool's backlog (what KEDA scales that pool's Deployment on) moves with its
// own trials only: one pool drains while the other's stays put until its worker comes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, type RunningProcess, type Stack, startStack, startWorker } from '@lrsweep/testkit';

const spec = (name: string, pool: string, seeds: number) => ({
  name,
  runner: { kind: 'builtin', pool },
  dataset: { name: 'synthetic', trainSize: 256, testSize: 64 },
  model: { kind: 'mlp', hidden: [8] },
  training: { epochs: 2, batchSize: 32, evalEvery: 8 },
  grid: { baseLr: [0.01, 0.03], schedule: [{ kind: 'constant' }], seeds },
});

describe('two pools, two workers', () => {
  let stack: Stack;
  const workers: RunningProcess[] = [];
  beforeAll(async () => {
    stack = await startStack('pools', { workers: 0 });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await stack?.stop();
  });

  const backlog = async (pool: string) =>
    ((await stack.client.get(`/scaling/backlog?pool=${pool}`)).body as { backlog: number }).backlog;

  it('serves each pool from its own workers and scales each on its own backlog', async () => {
    const onCpu = await stack.lrsweep.submitSweep(spec('on-cpu', 'cpu', 3) as never);
    const onGpu = await stack.lrsweep.submitSweep(spec('on-gpu', 'gpu', 2) as never);
    expect([await backlog('cpu'), await backlog('gpu')]).toEqual([6, 4]);

    workers.push(await startWorker({ ...stack.env, WORKER_ID: 'pool-cpu-1', WORKER_POOLS: 'cpu', WORKER_SLOTS: '1' }));
    await stack.lrsweep.follow(onCpu.id, () => {}, 200);
    // The cpu pool drained; the gpu pool's trials still wait for a worker of their own.
    expect(await backlog('cpu')).toBe(0);
    expect(await backlog('gpu')).toBe(4);
    expect((await stack.lrsweep.getSweep(onGpu.id)).status).toBe('queued');

    workers.push(await startWorker({ ...stack.env, WORKER_ID: 'pool-gpu-1', WORKER_POOLS: 'gpu', WORKER_SLOTS: '1' }));
    await stack.lrsweep.follow(onGpu.id, () => {}, 200);
    expect(await backlog('gpu')).toBe(0);

    const ran = await query<{ pool: string; worker_id: string; n: number }>(
      stack.db.url,
      `SELECT t.pool, a.worker_id, count(*)::int AS n FROM trial_attempts a JOIN trials t ON t.id = a.trial_id
        WHERE t.status = 'completed' GROUP BY t.pool, a.worker_id ORDER BY t.pool`,
    );
    expect(ran).toEqual([
      { pool: 'cpu', worker_id: 'pool-cpu-1', n: 6 },
      { pool: 'gpu', worker_id: 'pool-gpu-1', n: 4 },
    ]);
    // The registry shows both workers with their pools.
    const fleet = (await stack.client.get('/v1/workers')).body as {
      workers: { kind: string; name: string; pools: string[] }[];
    };
    expect(
      fleet.workers
        .filter((w) => w.kind === 'worker')
        .map((w) => [w.name, w.pools])
        .sort(),
    ).toEqual([
      ['pool-cpu-1', ['cpu']],
      ['pool-gpu-1', ['gpu']],
    ]);
  }, 180_000);
});
