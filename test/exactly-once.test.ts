// Duplicate deliveries of one trial: enqueued twice more, the original removed from Redis and
// enqueued again, and two worker processes racing for them. Postgres's claim lets one train it.
import { deliveryJobId } from '@lrsweep/contract';
import { createRedis, createTrialQueue } from '@lrsweep/queue';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  query,
  apiClient,
  type RunningProcess,
  startApi,
  startWorker,
  deletePrefix,
  uniquePrefix,
  bootstrapToken,
  redisUrl,
  tinySpec,
} from '@lrsweep/testkit';

describe('exactly-once training', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('trains a trial once however many deliveries it gets', async () => {
    const db = await createTestDatabase('once');
    const prefix = uniquePrefix();
    cleanups.push(
      () => db.drop(),
      () => deletePrefix(prefix),
    );
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      LRSWEEP_BOOTSTRAP_TOKEN: bootstrapToken,
      // Short, so the deliveries that find the trial taken come back soon; long enough that a
      // loaded machine (a worker loading its dataset, a trainer process starting) keeps it.
      LEASE_MS: '5000',
    };
    const apiProc = await startApi(env);
    cleanups.push(() => apiProc.stop());
    const api = apiClient(apiProc.url, bootstrapToken);

    const created = await api.post(
      '/v1/sweeps',
      tinySpec({
        name: 'race',
        dataset: { trainSize: 1600, testSize: 200 },
        model: { hidden: [64] },
        training: { epochs: 2, batchSize: 32, evalEvery: 25 },
        grid: { baseLr: [0.001], schedule: [{ kind: 'linear' }] },
      }),
    );
    expect(created.status).toBe(201);
    const T = created.body.totalSteps as number;
    const [trial] = (await api.get(`/v1/sweeps/${created.body.id}/trials`)).body.trials;
    const payload = {
      trialId: trial.id as string,
      sweepId: created.body.id as string,
      projectId: 'default',
      pool: 'default',
    };

    const conn = createRedis(redisUrl);
    const producer = createTrialQueue({ connection: conn, prefix });
    const jobs = producer.queueOf(payload);
    cleanups.push(async () => {
      await producer.close();
      conn.disconnect();
    });
    await producer.enqueueTrials([{ ...payload, jobId: deliveryJobId(trial.id, 2) }]);
    await producer.enqueueTrials([{ ...payload, jobId: deliveryJobId(trial.id, 3) }]);
    expect(await jobs.remove(deliveryJobId(trial.id, 1))).toBe(1);
    await producer.enqueueTrials([{ ...payload, jobId: deliveryJobId(trial.id, 1) }]);
    expect(await jobs.getJobCounts('waiting')).toEqual({ waiting: 3 });

    const workers: RunningProcess[] = await Promise.all([
      startWorker({ ...env, WORKER_ID: 'racer-1' }),
      startWorker({ ...env, WORKER_ID: 'racer-2' }),
    ]);
    cleanups.push(() => Promise.all(workers.map((w) => w.stop())));

    await api.waitForSweep(created.body.id, 120_000);
    // Every delivery ends, and all but one end without training.
    for (let i = 0; ; i++) {
      const c = await jobs.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed');
      if (c.completed === 3) {
        expect(c).toEqual({ waiting: 0, delayed: 0, active: 0, completed: 3, failed: 0 });
        break;
      }
      if (i > 200) throw new Error(`deliveries did not settle: ${JSON.stringify(c)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // What each delivery came to, as BullMQ recorded it: one trained the trial, two found it taken.
    const outcomes = (await jobs.getJobs(['completed'])).map((j) => j.returnvalue as Record<string, unknown>);
    expect(outcomes.filter((o) => o.trained === true && o.trialId === trial.id && o.attempt === 1)).toHaveLength(1);
    expect(
      outcomes.filter((o) => o.skipped === true),
      JSON.stringify(outcomes),
    ).toHaveLength(2);

    const [row] = await query<{ attempt: number; status: string }>(
      db.url,
      'SELECT attempt, status FROM trials WHERE id = $1',
      [trial.id],
    );
    expect(row).toEqual({ attempt: 1, status: 'completed' });
    const steps = await query<{ n: number; distinct_steps: number; min: number; max: number; attempts: number }>(
      db.url,
      'SELECT count(*)::int AS n, count(DISTINCT step)::int AS distinct_steps, min(step) AS min, max(step) AS max, max(attempt) AS attempts FROM update_metrics WHERE trial_id = $1',
      [trial.id],
    );
    expect(steps[0]).toEqual({ n: T, distinct_steps: T, min: 0, max: T - 1, attempts: 1 });
  });
});
