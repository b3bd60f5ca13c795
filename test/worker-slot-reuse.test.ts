// A deterministic fault injection for the bug d62e45e fixed: an attempt that fails just after its
// training thread started (here: recording its run info fails, as when Postgres goes away at that
// moment) must stop that thread before the slot takes the next trial. Left running, the thread
// went on sending the failed attempt's rows while the next trial's listeners heard them, and a
// trial completed with rows missing. The worker's trial runner runs here in-process, on one real
// training slot, against the real Postgres and Redis; the database handle fails that one write.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb } from '@lrsweep/db';
import { createRedis, createTrialQueue, type Job } from '@lrsweep/queue';
import { query, type Stack, startStack, trialSeries } from '@lrsweep/testkit';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCheckpointFiles } from '../apps/worker/src/checkpoint-files';
import { createDatasetCache } from '../apps/worker/src/dataset-cache';
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

    expect(await run({ trialId: reference.id, sweepId: reference.sweepId }, job, undefined, slot)).toEqual({ status: 'completed' });
    // The first attempt of the faulty sweep's first trial fails as it starts…
    failFor = first!.id;
    expect(await run({ trialId: first!.id, sweepId: first!.sweepId }, job, undefined, slot)).toEqual({ retried: true });
    expect(injected).toBe(1);
    // …and the slot goes straight on to the next trial, then to the retry.
    expect(await run({ trialId: second!.id, sweepId: second!.sweepId }, job, undefined, slot)).toEqual({ status: 'completed' });
    expect(await run({ trialId: first!.id, sweepId: first!.sweepId }, job, undefined, slot)).toEqual({ status: 'completed' });
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
