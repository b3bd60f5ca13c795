// A deterministic fault injection for the bug d62e45e fixed: an attempt that fails just after its
// training thread started (here: recording its run info fails, as when Postgres goes away at that
// moment) must stop that thread before the slot takes the next trial. Left running, the thread
// went on sending the failed attempt's rows while the next trial's listeners heard them, and a
// trial completed with rows missing. And the slot's hand-back: a delivery ends once the thread is
// done with its trial, so the slot trains the next while the last one's end is recorded; a worker
// that dies in between leaves a lease that lapses, and the trial is delivered again. The worker's
// trial runner runs here in-process, on one real training slot, against the real Postgres and
// Redis; a database handle fails (or freezes) the one statement each test is about.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliveryJobId } from '@lrsweep/contract';
import { createDb } from '@lrsweep/db';
import { createRedis, createTrialQueue, type Job } from '@lrsweep/queue';
import { query, type Stack, startStack, trialSeries } from '@lrsweep/testkit';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCheckpointFiles } from '../apps/worker/src/checkpoint-files';
import { createDatasetCache } from '../apps/worker/src/dataset-cache';
import { reconcileOnce } from '../apps/api/src/reconciler';
import { createTrialRunner } from '../apps/worker/src/run-trial';
import { createSlotPool } from '../apps/worker/src/slot-pool';

const spec = (name: string, seeds: number[]) => ({
  name,
  dataset: { name: 'mnist', trainSize: 2200, validationSize: 200, testSize: 300 },
  model: { kind: 'mlp', hidden: [256] },
  optimizer: { kind: 'adam' },
  training: { epochs: 3, batchSize: 20, evalEvery: 25 },
  grid: { baseLr: [0.001], schedule: [{ kind: 'cosine', warmup: { steps: 20 } }], seeds },
});
const T = 300;

describe('a slot reused after an attempt failed as it started', () => {
  let stack: Stack;
  const checkpointDir = mkdtempSync(join(tmpdir(), 'lrsweep-ckpt-'));
  const log = pino({ level: 'warn' });
  let handle: ReturnType<typeof createDb>;
  let redis: ReturnType<typeof createRedis>;
  let queue: ReturnType<typeof createTrialQueue>;
  const slots = createSlotPool(1, 'wasm', log);
  beforeAll(async () => {
    // The API only: no worker consumes; this test hands each trial to the runner itself.
    stack = await startStack('slotreuse', { workers: 0 });
    handle = createDb({ url: stack.db.url });
    redis = createRedis(stack.env.REDIS_URL!);
    queue = createTrialQueue({ connection: redis, prefix: stack.prefix });
    await slots.start();
  }, 60_000);
  afterAll(async () => {
    await slots.close();
    await queue?.close();
    redis?.disconnect();
    await handle?.close();
    await stack?.stop();
    rmSync(checkpointDir, { recursive: true, force: true });
  });

  it('stops the failed attempt’s thread: the next trial on the slot, and the retry, have every row, equal to a clean run', async () => {
    const prisma = handle.prisma;
    // Fails the first run-info write of one trial (recordRunInfo: the step right after its thread starts).
    let failFor: string | null = null;
    let injected = 0;
    const db = new Proxy(prisma, {
      get(target, key) {
        const v = Reflect.get(target, key);
        if (key !== '$executeRaw') return typeof v === 'function' ? v.bind(target) : v;
        return (strings: TemplateStringsArray, ...values: unknown[]) => {
          if (injected === 0 && failFor !== null && strings.join('?').includes('lrsweep_version') && values.includes(failFor)) {
            injected++;
            return Promise.reject(new Error("Can't reach database server (injected)"));
          }
          return target.$executeRaw(strings, ...values);
        };
      },
    }) as typeof prisma;
    const run = createTrialRunner({
      db,
      queue,
      log,
      workerId: 'in-process',
      leaseMs: 30_000,
      flushMs: 100,
      checkpointEvery: 1000,
      checkpoints: createCheckpointFiles(checkpointDir),
      lrsweepVersion: 'test',
      datasets: createDatasetCache(log),
      dataRoot: tmpdir(),
      modelRoot: tmpdir(),
      shuttingDown: () => false,
    });
    const job = { timestamp: Date.now(), moveToDelayed: async () => {} } as unknown as Job;
    const slot = slots.tryAcquire()!;
    const trialsOf = async (sweepId: string) =>
      (await query<{ id: string; seed: number }>(stack.db.url, "SELECT id, (config->>'seed')::int AS seed FROM trials WHERE sweep_id = $1 ORDER BY ordinal", [sweepId])).map((t) => ({
        ...t,
        sweepId,
      }));
    const reference = (await trialsOf((await stack.lrsweep.submitSweep(spec('reference', [8]) as never)).id))[0]!;
    const [first, second] = await trialsOf((await stack.lrsweep.submitSweep(spec('faulty', [7, 8]) as never)).id);

    expect(await (await run({ trialId: reference.id, sweepId: reference.sweepId }, job, undefined, slot)).settled).toEqual({ status: 'completed' });
    // The first attempt of the faulty sweep's first trial fails as it starts…
    failFor = first!.id;
    expect(await (await run({ trialId: first!.id, sweepId: first!.sweepId }, job, undefined, slot)).settled).toEqual({ retried: true });
    expect(injected).toBe(1);
    // …and the slot goes straight on to the next trial, then to the retry.
    expect(await (await run({ trialId: second!.id, sweepId: second!.sweepId }, job, undefined, slot)).settled).toEqual({ status: 'completed' });
    expect(await (await run({ trialId: first!.id, sweepId: first!.sweepId }, job, undefined, slot)).settled).toEqual({ status: 'completed' });
    slots.release(slot);

    const ref = await trialSeries(stack.db.url, reference.id);
    const next = await trialSeries(stack.db.url, second!.id);
    const retried = await trialSeries(stack.db.url, first!.id);
    expect(ref.updates).toHaveLength(T);
    // The next trial is the reference's seed: the same series, every row, none of the failed attempt's.
    expect(next.trial).toMatchObject({ status: 'completed', attempt: 1 });
    expect(next.updates.map(({ step, lr, train_loss }) => ({ step, lr, train_loss }))).toEqual(ref.updates.map(({ step, lr, train_loss }) => ({ step, lr, train_loss })));
    expect(next.evals.map(({ step, val_loss }) => ({ step, val_loss }))).toEqual(ref.evals.map(({ step, val_loss }) => ({ step, val_loss })));
    // The retried trial: attempt 2 wrote its whole series (the failed attempt left nothing it kept).
    expect(retried.trial).toMatchObject({ status: 'completed', attempt: 2 });
    expect(retried.updates.map((u) => u.step)).toEqual([...Array(T).keys()]);
    expect(retried.updates.every((u) => u.attempt === 2)).toBe(true);
  }, 180_000);
});

describe('a slot handed back once its thread is done with a trial', () => {
  let stack: Stack;
  const checkpointDir = mkdtempSync(join(tmpdir(), 'lrsweep-ckpt-'));
  const log = pino({ level: 'warn' });
  let handle: ReturnType<typeof createDb>;
  let redis: ReturnType<typeof createRedis>;
  let queue: ReturnType<typeof createTrialQueue>;
  const slots = createSlotPool(1, 'wasm', log);
  beforeAll(async () => {
    stack = await startStack('slothandback', { workers: 0 });
    handle = createDb({ url: stack.db.url });
    redis = createRedis(stack.env.REDIS_URL!);
    queue = createTrialQueue({ connection: redis, prefix: stack.prefix });
    await slots.start();
  }, 60_000);
  afterAll(async () => {
    await slots.close();
    await queue?.close();
    redis?.disconnect();
    await handle?.close();
    await stack?.stop();
    rmSync(checkpointDir, { recursive: true, force: true });
  });

  const runnerOn = (db: typeof handle.prisma, leaseMs: number) =>
    createTrialRunner({
      db,
      queue,
      log,
      workerId: 'in-process',
      leaseMs,
      flushMs: 100,
      checkpointEvery: 1000,
      checkpoints: createCheckpointFiles(checkpointDir),
      lrsweepVersion: 'test',
      datasets: createDatasetCache(log),
      dataRoot: tmpdir(),
      modelRoot: tmpdir(),
      shuttingDown: () => false,
    });

  it('trains the next trial while the last one’s end waits on a frozen write, and settled() waits for that end', async () => {
    const prisma = handle.prisma;
    // The statement that records a trial's end (finishTrial) freezes for one trial until let go.
    let frozenFor: string | null = null;
    let letGo!: () => void;
    const gate = new Promise<void>((r) => (letGo = r));
    const db = new Proxy(prisma, {
      get(target, key) {
        const v = Reflect.get(target, key);
        if (key !== '$queryRaw') return typeof v === 'function' ? v.bind(target) : v;
        return (strings: TemplateStringsArray, ...values: unknown[]) => {
          const isFinish = strings.join('?').includes('AS merged');
          if (isFinish && frozenFor !== null && values.includes(frozenFor)) return gate.then(() => target.$queryRaw(strings, ...values));
          return target.$queryRaw(strings, ...values);
        };
      },
    }) as typeof prisma;
    const run = runnerOn(db, 30_000);
    const job = { timestamp: Date.now(), moveToDelayed: async () => {} } as unknown as Job;
    const created = await stack.lrsweep.submitSweep({ ...spec('handback', [1, 2]), training: { epochs: 1, batchSize: 20, evalEvery: 25 } } as never);
    const [first, second] = await query<{ id: string; total_steps: number }>(stack.db.url, 'SELECT id, total_steps FROM trials WHERE sweep_id = $1 ORDER BY ordinal', [created.id]);
    const statusOf = async (id: string) => (await query<{ status: string }>(stack.db.url, 'SELECT status FROM trials WHERE id = $1', [id]))[0]!.status;
    frozenFor = first!.id;

    const slot = slots.tryAcquire()!;
    const a = await run({ trialId: first!.id, sweepId: created.id }, job, undefined, slot);
    // The delivery ended with the thread done; the trial's end is not recorded yet.
    expect(a.delivery).toEqual({ trained: true, trialId: first!.id, attempt: 1 });
    expect(await statusOf(first!.id)).toBe('running');
    // The same slot trains the next trial to its end meanwhile.
    const b = await run({ trialId: second!.id, sweepId: created.id }, job, undefined, slot);
    expect(await b.settled).toEqual({ status: 'completed' });
    expect(await statusOf(first!.id)).toBe('running');
    // settled() (what a shutdown awaits) waits for the frozen end…
    const early = await Promise.race([run.settled().then(() => 'settled'), new Promise((r) => setTimeout(() => r('waiting'), 500))]);
    expect(early).toBe('waiting');
    // …which, let go, is recorded with every row.
    letGo();
    await run.settled();
    expect(await a.settled).toEqual({ status: 'completed' });
    slots.release(slot);
    const series = await trialSeries(stack.db.url, first!.id);
    expect(series.trial).toMatchObject({ status: 'completed', attempt: 1 });
    expect(series.updates.map((u) => u.step)).toEqual([...Array(first!.total_steps).keys()]);
  }, 120_000);
});

describe('a trial whose worker dies after training, before its end is recorded', () => {
  it('is delivered again once its lease lapses, and its retry records every row', async () => {
    const stack = await startStack('diesbeforeend', { workers: 0 });
    const checkpointDir = mkdtempSync(join(tmpdir(), 'lrsweep-ckpt-'));
    const log = pino({ level: 'silent' });
    const handle = createDb({ url: stack.db.url });
    const redis = createRedis(stack.env.REDIS_URL!);
    const queue = createTrialQueue({ connection: redis, prefix: stack.prefix });
    const slots = createSlotPool(1, 'wasm', log);
    try {
      await slots.start();
      // The dead worker: its end-of-trial statement never returns (the process is gone).
      const never = new Promise<never>(() => {});
      const dead = new Proxy(handle.prisma, {
        get(target, key) {
          const v = Reflect.get(target, key);
          if (key !== '$queryRaw') return typeof v === 'function' ? v.bind(target) : v;
          return (strings: TemplateStringsArray, ...values: unknown[]) => (strings.join('?').includes('AS merged') ? never : target.$queryRaw(strings, ...values));
        },
      }) as typeof handle.prisma;
      const deps = (db: typeof handle.prisma, leaseMs: number) => ({
        db,
        queue,
        log,
        workerId: 'in-process',
        leaseMs,
        flushMs: 100,
        checkpointEvery: 1000,
        checkpoints: createCheckpointFiles(checkpointDir),
        lrsweepVersion: 'test',
        datasets: createDatasetCache(log),
        dataRoot: tmpdir(),
        modelRoot: tmpdir(),
        shuttingDown: () => false,
      });
      const job = { timestamp: Date.now(), moveToDelayed: async () => {} } as unknown as Job;
      const created = await stack.lrsweep.submitSweep({ ...spec('dies', [1]), training: { epochs: 1, batchSize: 20, evalEvery: 25 } } as never);
      const [trial] = await query<{ id: string; total_steps: number }>(stack.db.url, 'SELECT id, total_steps FROM trials WHERE sweep_id = $1', [created.id]);
      // The dead worker had taken the delivery and completed it (as a delivery ends once the thread is free).
      await queue.removeJobs({ projectId: 'default', pool: 'default' }, [deliveryJobId(trial!.id, 1)]);
      const slot = slots.tryAcquire()!;
      const a = await createTrialRunner(deps(dead, 1000))({ trialId: trial!.id, sweepId: created.id }, job, undefined, slot);
      expect(a.delivery).toEqual({ trained: true, trialId: trial!.id, attempt: 1 });
      // Its delivery is done in Redis, its trial still running in Postgres: the lease lapses, and
      // the reconciler (the API's, every few seconds; here called once) hands it a new delivery.
      await new Promise((r) => setTimeout(r, 1500));
      // (The stack's own API may get there first: either way, one lapse counted and a second delivery.)
      await reconcileOnce({ db: handle.prisma, queue });
      const [row] = await query<{ status: string; failures: number; job_id: string }>(stack.db.url, 'SELECT status, failures, job_id FROM trials WHERE id = $1', [trial!.id]);
      expect(row).toEqual({ status: 'queued', failures: 1, job_id: deliveryJobId(trial!.id, 2) });
      expect(await queue.jobState({ projectId: 'default', pool: 'default' }, deliveryJobId(trial!.id, 2))).toBe('prioritized');
      const b = await createTrialRunner(deps(handle.prisma, 30_000))({ trialId: trial!.id, sweepId: created.id }, job, undefined, slot);
      expect(await b.settled).toEqual({ status: 'completed' });
      slots.release(slot);
      const series = await trialSeries(stack.db.url, trial!.id);
      expect(series.trial).toMatchObject({ status: 'completed', attempt: 2 });
      expect(series.updates.map((u) => u.step)).toEqual([...Array(trial!.total_steps).keys()]);
    } finally {
      await slots.close();
      await queue.close();
      redis.disconnect();
      await handle.close();
      await stack.stop();
      rmSync(checkpointDir, { recursive: true, force: true });
    }
  }, 120_000);
});
