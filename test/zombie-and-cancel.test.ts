// A zombie attempt (its lease lapsed, a newer attempt took over) cannot write; cancel stops a
// sweep's trials within seconds; retry re-runs failed trials only; both are idempotent.
import { createDb } from '@lrsweep/db';
import { claimTrial, finishTrial, recordCheckpoint, renewLease, writeEvaluations, writeUpdates } from '@lrsweep/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  query,
  type TestDatabase,
  apiClient,
  type RunningProcess,
  startApi,
  startWorker,
  deletePrefix,
  uniquePrefix,
  bootstrapToken,
  redisUrl,
  eventually,
  tinySpec,
} from '@lrsweep/testkit';

describe('zombie attempts', () => {
  it("refuse a zombie's late writes, finish, lease renewal and checkpoint", async () => {
    const db = await createTestDatabase('zombie');
    const { prisma, close } = createDb({ url: db.url });
    try {
      await prisma.project.upsert({ where: { id: 'default' }, create: { id: 'default' }, update: {} });
      const sweepId = '11111111-1111-4111-8111-111111111111';
      const trialId = '22222222-2222-4222-8222-222222222222';
      await prisma.sweep.create({ data: { id: sweepId, name: 'z', spec: {}, objective: {}, trialCount: 1 } });
      await prisma.trial.create({
        data: { id: trialId, sweepId, identity: 'z', configId: 'c', ordinal: 0, config: {}, totalSteps: 10 },
      });

      expect((await claimTrial(prisma, trialId, 'w1', 60_000))?.attempt).toBe(1);
      expect(
        await writeUpdates(
          prisma,
          trialId,
          1,
          [0, 1, 2, 3].map((step) => ({ step, lr: 0.1, trainLoss: 1 })),
        ),
      ).toBe(true);
      // w1 stalls; its lease lapses and w2 takes over.
      expect(await claimTrial(prisma, trialId, 'w2', 60_000)).toBeNull();
      await query(db.url, "UPDATE trials SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [trialId]);
      expect((await claimTrial(prisma, trialId, 'w2', 60_000))?.attempt).toBe(2);
      expect(
        await writeUpdates(
          prisma,
          trialId,
          2,
          [2, 3].map((step) => ({ step, lr: 0.2, trainLoss: 2 })),
        ),
      ).toBe(true);

      // The zombie wakes up.
      expect(
        await writeUpdates(
          prisma,
          trialId,
          1,
          [3, 4, 5].map((step) => ({ step, lr: 9, trainLoss: 9 })),
        ),
      ).toBe(false);
      expect(await writeEvaluations(prisma, trialId, 1, [{ step: 5, valLoss: 9, valAcc: 0 }])).toBe(false);
      expect(await renewLease(prisma, trialId, 1, 60_000)).toBe(false);
      expect(await recordCheckpoint(prisma, trialId, 1, '/tmp/x', 5)).toBe(false);
      expect(await finishTrial(prisma, trialId, 1, 'completed', { stepsDone: 6 })).toBe(false);

      const rows = await query<{ step: number; lr: number; attempt: number }>(
        db.url,
        'SELECT step, lr, attempt FROM update_metrics WHERE trial_id = $1 ORDER BY step',
        [trialId],
      );
      expect(rows).toEqual([
        { step: 0, lr: 0.1, attempt: 1 },
        { step: 1, lr: 0.1, attempt: 1 },
        { step: 2, lr: 0.2, attempt: 2 },
        { step: 3, lr: 0.2, attempt: 2 },
      ]);
      expect(await query(db.url, 'SELECT count(*)::int AS n FROM evaluations')).toEqual([{ n: 0 }]);
      const [t] = await query(db.url, 'SELECT status, attempt, worker_id, checkpoint_path FROM trials WHERE id = $1', [
        trialId,
      ]);
      expect(t).toEqual({ status: 'running', attempt: 2, worker_id: 'w2', checkpoint_path: null });
      // The live attempt finishes normally.
      expect(await finishTrial(prisma, trialId, 2, 'completed', { stepsDone: 4 })).toBe(true);
    } finally {
      await close();
      await db.drop();
    }
  });
});

describe('cancel and retry', () => {
  let db: TestDatabase;
  const prefix = uniquePrefix();
  const procs: RunningProcess[] = [];
  let api: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    db = await createTestDatabase('cancel');
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      LRSWEEP_BOOTSTRAP_TOKEN: bootstrapToken,
      METRICS_FLUSH_MS: '100',
    };
    const a = await startApi(env);
    procs.push(a, await startWorker({ ...env, WORKER_ID: 'cw' }));
    api = apiClient(a.url, bootstrapToken);
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await db?.drop();
    await deletePrefix(prefix);
  });

  const long = (name: string) =>
    tinySpec({
      name,
      dataset: { trainSize: 4000, testSize: 200 },
      model: { hidden: [256] },
      training: { epochs: 5, batchSize: 16, evalEvery: 100 },
      grid: { baseLr: [0.001, 0.002], seeds: 3 },
    });

  it('cancel drops queued trials and stops the running one within seconds; a second cancel changes nothing', async () => {
    const { id } = (await api.post('/v1/sweeps', long('to-cancel'))).body;
    const running = await eventually('a running trial', async () => {
      const rows = await query<{ id: string }>(
        db.url,
        "SELECT t.id FROM trials t WHERE t.sweep_id = $1 AND t.status = 'running' AND EXISTS (SELECT 1 FROM update_metrics u WHERE u.trial_id = t.id)",
        [id],
      );
      return rows[0]?.id;
    });
    const t0 = Date.now();
    const first = await api.post(`/v1/sweeps/${id}/cancel`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      cancelledTrials: 6,
      sweep: { status: 'cancelled', counts: { cancelled: 6, queued: 0, running: 0 } },
    });
    // The running trial's worker stops: its stored rows stop growing within seconds.
    const rowsOf = async () =>
      (
        await query<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM update_metrics WHERE trial_id = $1', [
          running,
        ])
      )[0]!.n;
    const rowsAtStop = await eventually(
      'the cancelled trial stops training',
      async () => {
        const before = await rowsOf();
        await new Promise((r) => setTimeout(r, 700));
        return (await rowsOf()) === before ? before : null;
      },
      10_000,
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(rowsAtStop).toBeLessThan(1250);

    // Cancelling or retrying a cancelled sweep changes nothing: 409, and the sweep stays as it was.
    const again = await api.post(`/v1/sweeps/${id}/cancel`);
    expect(again).toMatchObject({ status: 409, body: { code: 'SWEEP_UNCHANGED' } });
    expect((await api.post(`/v1/sweeps/${id}/retry`)).status).toBe(409);
    expect((await api.get(`/v1/sweeps/${id}`)).body).toMatchObject({ status: 'cancelled', counts: { cancelled: 6 } });
    // No trial of the cancelled sweep starts afterwards.
    await new Promise((r) => setTimeout(r, 1000));
    const statuses = await query<{ status: string }>(
      db.url,
      'SELECT DISTINCT status::text AS status FROM trials WHERE sweep_id = $1',
      [id],
    );
    expect(statuses).toEqual([{ status: 'cancelled' }]);
  });

  it('retry re-runs the failed trials and only those, with a fresh budget; a second retry changes nothing (409)', async () => {
    const { id } = (
      await api.post('/v1/sweeps', {
        ...long('to-retry'),
        training: { epochs: 1, batchSize: 100, evalEvery: 10 },
        dataset: { ...long('').dataset, trainSize: 500, testSize: 100 },
      })
    ).body;
    await api.waitForSweep(id);
    const trials = await query<{ id: string; attempt: number }>(
      db.url,
      'SELECT id, attempt FROM trials WHERE sweep_id = $1 ORDER BY ordinal',
      [id],
    );
    // Two trials failed (as a worker records a failure); the others completed.
    const failed = [trials[1]!.id, trials[4]!.id];
    await query(
      db.url,
      "UPDATE trials SET status = 'failed', error = 'simulated failure', error_code = 'WORKER_CRASHED', failures = 3 WHERE id = ANY($1::uuid[])",
      [failed],
    );
    // Every trial ended and some completed: the sweep is completed; cancelling it changes nothing.
    expect((await api.get(`/v1/sweeps/${id}`)).body.status).toBe('completed');
    expect((await api.post(`/v1/sweeps/${id}/cancel`)).status).toBe(409);
    expect((await api.get(`/v1/sweeps/${id}`)).body.status).toBe('completed');
    const r = await api.post(`/v1/sweeps/${id}/retry`);
    expect(r.status).toBe(200);
    expect(r.body.retriedTrials).toBe(2);
    await api.waitForSweep(id);
    const after = await query<{ id: string; attempt: number; status: string; error: string | null; failures: number }>(
      db.url,
      'SELECT id, attempt, status::text AS status, error, failures FROM trials WHERE sweep_id = $1 ORDER BY ordinal',
      [id],
    );
    for (const t of after) {
      expect(t.status).toBe('completed');
      expect(t.error).toBeNull();
      expect(t.failures).toBe(0);
      expect(t.attempt).toBe(failed.includes(t.id) ? 2 : 1);
    }
    const again = await api.post(`/v1/sweeps/${id}/retry`);
    expect(again).toMatchObject({ status: 409, body: { code: 'SWEEP_UNCHANGED' } });
  });

  it('a deterministic failure fails at once, says why, and is not retried', async () => {
    // Stop the worker, corrupt one trial's stored config (what no retry can mend), restart it.
    await procs[1]!.stop();
    const { id } = (
      await api.post('/v1/sweeps', {
        ...long('broken'),
        training: { epochs: 1, batchSize: 100, evalEvery: 10 },
        dataset: { ...long('').dataset, trainSize: 500, testSize: 100 },
      })
    ).body;
    const [victim] = await query<{ id: string }>(
      db.url,
      'SELECT id FROM trials WHERE sweep_id = $1 ORDER BY ordinal LIMIT 1',
      [id],
    );
    await query(
      db.url,
      `UPDATE trials SET config = jsonb_set(config, '{schedule}', '{"kind": "step", "stepSize": -3}') WHERE id = $1`,
      [victim!.id],
    );
    const env = { DATABASE_URL: db.url, REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, METRICS_FLUSH_MS: '100' };
    const w = await startWorker({ ...env, WORKER_ID: 'cw2' });
    procs.push(w);
    const sweep = await api.waitForSweep(id);
    expect(sweep.counts).toMatchObject({ failed: 1, completed: 5 });
    const [t] = await query<{ status: string; attempt: number; error: string; error_code: string; failures: number }>(
      db.url,
      'SELECT status::text AS status, attempt, error, error_code, failures FROM trials WHERE id = $1',
      [victim!.id],
    );
    expect(t).toMatchObject({ status: 'failed', attempt: 1, error_code: 'CONFIG_INVALID', failures: 0 });
    expect(t!.error).toMatch(/stepSize/);
    expect(w.lines.filter((l) => l.msg === 'delivery failed')).toEqual([]);
  });
});
