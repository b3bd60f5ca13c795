// The worker's trial runner in-process, on one real training slot, over a stack's API, Postgres and
// Redis (no worker process consumes): tests hand it trials and wrap its database handle to fail or
// freeze the one statement they are about (test/worker-slot-reuse.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb } from '@lrsweep/db';
import { createRedis, createTrialQueue, type Job } from '@lrsweep/queue';
import { type Stack, startStack } from '@lrsweep/testkit';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { createCheckpointFiles } from '../../apps/worker/src/checkpoint-files';
import { createDatasetCache } from '../../apps/worker/src/dataset-cache';
import { createTrialRunner } from '../../apps/worker/src/run-trial';
import { createSlotPool } from '../../apps/worker/src/slot-pool';

/**
 * The API of a stack (no worker consumes: each test hands trials to the runner itself), one real
 * training slot, and `runner(db, leaseMs)`: the worker's trial runner over a database handle the
 * test may wrap to fail or freeze one statement.
 */
export function inProcess(name: string) {
  const h = {} as {
    stack: Stack;
    handle: ReturnType<typeof createDb>;
    redis: ReturnType<typeof createRedis>;
    queue: ReturnType<typeof createTrialQueue>;
  };
  const checkpointDir = mkdtempSync(join(tmpdir(), 'lrsweep-ckpt-'));
  const log = pino({ level: 'warn' });
  const slots = createSlotPool(1, 'wasm', log);
  beforeAll(async () => {
    h.stack = await startStack(name, { workers: 0 });
    h.handle = createDb({ url: h.stack.db.url });
    h.redis = createRedis(h.stack.env.REDIS_URL!);
    h.queue = createTrialQueue({ connection: h.redis, prefix: h.stack.prefix });
    await slots.start();
  }, 60_000);
  afterAll(async () => {
    await slots.close();
    await h.queue?.close();
    h.redis?.disconnect();
    await h.handle?.close();
    await h.stack?.stop();
    rmSync(checkpointDir, { recursive: true, force: true });
  });
  const runner = (
    db: typeof h.handle.prisma,
    leaseMs = 30_000,
    extra: { maxRecording?: number; metricRetryMs?: number } = {},
  ) =>
    createTrialRunner({
      ...extra,
      db,
      queue: h.queue,
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
      numerics: () => slots.numerics,
    });
  /** A statement's values, with those of the fragments it nests (the ownership guard, `heldBy`) in line. */
  const flat = (values: unknown[]): unknown[] =>
    values.flatMap((v) =>
      v !== null && typeof v === 'object' && Array.isArray((v as { values?: unknown }).values)
        ? flat((v as { values: unknown[] }).values)
        : [v],
    );
  /** The database handle with one tagged-template method wrapped: `wrap` answers for the calls it wants. */
  const intercept = (
    key: '$queryRaw' | '$executeRaw',
    wrap: (strings: TemplateStringsArray, values: unknown[], go: () => Promise<unknown>) => Promise<unknown>,
  ) =>
    new Proxy(h.handle.prisma, {
      get(target, k) {
        const v = Reflect.get(target, k);
        if (k !== key) return typeof v === 'function' ? v.bind(target) : v;
        return (strings: TemplateStringsArray, ...values: unknown[]) =>
          wrap(strings, flat(values), () =>
            (target[key] as (s: TemplateStringsArray, ...v: unknown[]) => Promise<unknown>)(strings, ...values),
          );
      },
    }) as typeof h.handle.prisma;
  /**
   * The database handle with `$transaction` wrapped: an attempt's end is the engine's one
   * transaction holding its last rows, run info and finishing statement; `wrap` answers for it.
   */
  const interceptEnds = (wrap: (go: () => Promise<unknown>) => Promise<unknown>) =>
    new Proxy(h.handle.prisma, {
      get(target, k) {
        const v = Reflect.get(target, k);
        if (k !== '$transaction') return typeof v === 'function' ? v.bind(target) : v;
        return (...args: unknown[]) =>
          Array.isArray(args[0])
            ? wrap(() => (v as (...a: unknown[]) => Promise<unknown>).apply(target, args))
            : (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      },
    }) as typeof h.handle.prisma;
  const job = { timestamp: Date.now(), moveToDelayed: async () => {} } as unknown as Job;
  return { h, slots, runner, intercept, interceptEnds, job };
}
