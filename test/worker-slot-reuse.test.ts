// A deterministic fault injection for the bug d62e45e fixed: an attempt that fails just after its
// training thread started (here: recording its run info fails, as when Postgres goes away at that
// moment) must stop that thread before the slot takes the next trial. Left running, the thread
// went on sending the failed attempt's rows while the next trial's listeners heard them, and a
// trial completed with rows missing. And the slot's hand-back: a delivery ends once the thread is
// done with its trial, so the slot trains the next while the last one's end is recorded; a worker
// that dies in between leaves a lease that lapses, and the trial is delivered again. The worker's
// trial runner runs here in-process, on one real training slot, against the real Postgres and
// Redis; a database handle fails (or freezes) the one statement (or the attempt's end, the
// engine's one transaction) each test is about. And the same
// fault on a resumed attempt: Postgres fails right after its run starts; the retry resumes from the
// checkpoint, nothing lost or doubled (issue #30's leftover).
import { deliveryJobId } from '@lrsweep/contract';
import { eventually, query, type Stack, trialSeries } from '@lrsweep/testkit';
import { describe, expect, it } from 'vitest';
import { reconcileOnce } from '../apps/api/src/reconciler';
import { inProcess } from './support/in-process-runner';

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
  const { h, slots, runner, intercept, job } = inProcess('slotreuse');

  it('stops the failed attempt’s thread: the next trial on the slot, and the retry, have every row, equal to a clean run', async () => {
    // Fails every run-info write of one attempt (recordRunInfo: its metric sink's first write,
    // right after its thread starts), as when Postgres goes away then: once the sink gives up
    // (here after 300 ms), the attempt stops and fails while its thread is still training.
    let failFor: string | null = null;
    let injected = 0;
    const run = runner(
      intercept('$executeRaw', (strings, values, go) => {
        if (failFor !== null && strings.join('?').includes('lrsweep_version') && values.includes(failFor)) {
          injected++;
          return Promise.reject(new Error("Can't reach database server (injected)"));
        }
        return go();
      }),
      30_000,
      { metricRetryMs: 300 },
    );
    const slot = slots.tryAcquire()!;
    const trialsOf = async (sweepId: string) =>
      (
        await query<{ id: string; seed: number }>(
          h.stack.db.url,
          "SELECT id, (config->>'seed')::int AS seed FROM trials WHERE sweep_id = $1 ORDER BY ordinal",
          [sweepId],
        )
      ).map((t) => ({
        ...t,
        sweepId,
      }));
    const reference = (await trialsOf((await h.stack.lrsweep.submitSweep(spec('reference', [8]) as never)).id))[0]!;
    const [first, second] = await trialsOf((await h.stack.lrsweep.submitSweep(spec('faulty', [7, 8]) as never)).id);

    expect(
      await (await run({ trialId: reference.id, sweepId: reference.sweepId }, job, undefined, slot)).settled,
    ).toEqual({ status: 'completed' });
    // The first attempt of the faulty sweep's first trial fails as it starts…
    failFor = first!.id;
    expect(await (await run({ trialId: first!.id, sweepId: first!.sweepId }, job, undefined, slot)).settled).toEqual({
      retried: true,
    });
    failFor = null;
    expect(injected).toBeGreaterThan(1);
    // …and the slot goes straight on to the next trial, then to the retry.
    expect(await (await run({ trialId: second!.id, sweepId: second!.sweepId }, job, undefined, slot)).settled).toEqual({
      status: 'completed',
    });
    expect(await (await run({ trialId: first!.id, sweepId: first!.sweepId }, job, undefined, slot)).settled).toEqual({
      status: 'completed',
    });
    slots.release(slot);

    const ref = await trialSeries(h.stack.db.url, reference.id);
    const next = await trialSeries(h.stack.db.url, second!.id);
    const retried = await trialSeries(h.stack.db.url, first!.id);
    expect(ref.updates).toHaveLength(T);
    // The next trial is the reference's seed: the same series, every row, none of the failed attempt's.
    expect(next.trial).toMatchObject({ status: 'completed', attempt: 1 });
    expect(next.updates.map(({ step, lr, train_loss }) => ({ step, lr, train_loss }))).toEqual(
      ref.updates.map(({ step, lr, train_loss }) => ({ step, lr, train_loss })),
    );
    expect(next.evals.map(({ step, val_loss }) => ({ step, val_loss }))).toEqual(
      ref.evals.map(({ step, val_loss }) => ({ step, val_loss })),
    );
    // The retried trial: attempt 2 wrote its whole series (the failed attempt left nothing it kept).
    expect(retried.trial).toMatchObject({ status: 'completed', attempt: 2 });
    expect(retried.updates.map((u) => u.step)).toEqual([...Array(T).keys()]);
    expect(retried.updates.every((u) => u.attempt === 2)).toBe(true);
  }, 180_000);
});

/** A short sweep of `seeds`: its trials (in order) with their lengths. */
async function shortSweep(stack: Stack, name: string, seeds: number[]) {
  const created = await stack.lrsweep.submitSweep({
    ...spec(name, seeds),
    training: { epochs: 1, batchSize: 20, evalEvery: 25 },
  } as never);
  const trials = await query<{ id: string; total_steps: number }>(
    stack.db.url,
    'SELECT id, total_steps FROM trials WHERE sweep_id = $1 ORDER BY ordinal',
    [created.id],
  );
  return { sweepId: created.id, trials };
}
const statusOf = async (stack: Stack, id: string) =>
  (await query<{ status: string }>(stack.db.url, 'SELECT status FROM trials WHERE id = $1', [id]))[0]!.status;
/** A promise that stays pending until `letGo()`. */
function gate() {
  let letGo!: () => void;
  const passed = new Promise<void>((r) => (letGo = r));
  return { passed, letGo };
}

describe('a slot handed back once its thread is done with a trial', () => {
  const { h, slots, runner, interceptEnds, job } = inProcess('slothandback');

  it('trains the next trial while the last one’s end waits on a frozen write, and settled() waits for that end', async () => {
    const { sweepId, trials } = await shortSweep(h.stack, 'handback', [1, 2]);
    const [first, second] = trials;
    // The first trial's end freezes until let go.
    const { passed, letGo } = gate();
    // The first end (the first trial's) waits; the second trial's goes through.
    let ends = 0;
    const run = runner(interceptEnds((go) => (ends++ === 0 ? passed.then(go) : go())));

    const slot = slots.tryAcquire()!;
    const a = await run({ trialId: first!.id, sweepId }, job, undefined, slot);
    // The delivery ended with the thread done; the trial's end is not recorded yet.
    expect(a.delivery).toEqual({ trained: true, trialId: first!.id, attempt: 1 });
    expect(await statusOf(h.stack, first!.id)).toBe('running');
    // The same slot trains the next trial to its end meanwhile.
    const b = await run({ trialId: second!.id, sweepId }, job, undefined, slot);
    expect(await b.settled).toEqual({ status: 'completed' });
    expect(await statusOf(h.stack, first!.id)).toBe('running');
    // settled() (what a shutdown awaits) waits for the frozen end…
    const early = await Promise.race([
      run.settled().then(() => 'settled'),
      new Promise((r) => setTimeout(() => r('waiting'), 500)),
    ]);
    expect(early).toBe('waiting');
    // …which, let go, is recorded with every row.
    letGo();
    await run.settled();
    expect(await a.settled).toEqual({ status: 'completed' });
    slots.release(slot);
    const series = await trialSeries(h.stack.db.url, first!.id);
    expect(series.trial).toMatchObject({ status: 'completed', attempt: 1 });
    expect(series.updates.map((u) => u.step)).toEqual([...Array(first!.total_steps).keys()]);
  }, 120_000);

  it('ends that cannot be recorded hold the slot once more than maxRecording wait, and let it go as they are recorded', async () => {
    const { sweepId, trials } = await shortSweep(h.stack, 'frozen', [1, 2]);
    const [first, second] = trials;
    const { passed, letGo } = gate();
    let ends = 0;
    const run = runner(
      interceptEnds((go) => (ends++, passed.then(go))),
      30_000,
      { maxRecording: 1 },
    );
    const slot = slots.tryAcquire()!;
    // One end may wait: the first delivery ends with its thread.
    const a = await run({ trialId: first!.id, sweepId }, job, undefined, slot);
    // A second may not: its delivery holds the slot even once its thread is done and its end
    // (its last rows with it, in one transaction) is waiting.
    let bDone = false;
    const b = run({ trialId: second!.id, sweepId }, job, undefined, slot).then((r) => ((bDone = true), r));
    await eventually('the second trial’s end waiting', async () => ends === 2, 60_000, 50);
    await new Promise((r) => setTimeout(r, 300));
    expect(bDone).toBe(false);
    letGo();
    expect(await (await b).settled).toEqual({ status: 'completed' });
    expect(await a.settled).toEqual({ status: 'completed' });
    slots.release(slot);
    expect(await statusOf(h.stack, first!.id)).toBe('completed');
  }, 120_000);
});

describe('a trial whose worker dies after training, before its end is recorded', () => {
  const { h, slots, runner, interceptEnds, job } = inProcess('diesbeforeend');

  it('is delivered again once its lease lapses, and its retry records every row', async () => {
    const { sweepId, trials } = await shortSweep(h.stack, 'dies', [1]);
    const [trial] = trials;
    const pool = { projectId: 'default', pool: 'default' };
    // The dead worker had taken the delivery and completed it (a delivery ends once the thread
    // is free), and its end-of-trial statement never returns (the process is gone).
    await h.queue.removeJobs(pool, [deliveryJobId(trial!.id, 1)]);
    const dead = runner(
      interceptEnds(() => new Promise<never>(() => {})),
      1000,
    );
    const slot = slots.tryAcquire()!;
    const a = await dead({ trialId: trial!.id, sweepId }, job, undefined, slot);
    expect(a.delivery).toEqual({ trained: true, trialId: trial!.id, attempt: 1 });
    // Its delivery is gone from Redis, its trial still running in Postgres: the lease lapses, and
    // the reconciler hands it a new delivery (the stack's own API may get there first: either
    // way, one lapse counted and a second delivery).
    await new Promise((r) => setTimeout(r, 1500));
    await reconcileOnce({ db: h.handle.prisma, queue: h.queue });
    const [row] = await query<{ status: string; failures: number; job_id: string }>(
      h.stack.db.url,
      'SELECT status, failures, job_id FROM trials WHERE id = $1',
      [trial!.id],
    );
    expect(row).toEqual({ status: 'queued', failures: 1, job_id: deliveryJobId(trial!.id, 2) });
    expect(await h.queue.jobState(pool, deliveryJobId(trial!.id, 2))).toBe('prioritized');
    const b = await runner(h.handle.prisma)({ trialId: trial!.id, sweepId }, job, undefined, slot);
    expect(await b.settled).toEqual({ status: 'completed' });
    slots.release(slot);
    const series = await trialSeries(h.stack.db.url, trial!.id);
    expect(series.trial).toMatchObject({ status: 'completed', attempt: 2 });
    expect(series.updates.map((u) => u.step)).toEqual([...Array(trial!.total_steps).keys()]);
  }, 120_000);
});

describe('a resumed attempt that loses Postgres right after its run starts', () => {
  const { h, slots, runner, intercept, job } = inProcess('pgfailresume');

  it('is retried, resumes from the checkpoint, and keeps every row exactly once', async () => {
    const trialOf = async (seeds: number[], name: string) => {
      // 1 000 updates: long enough to stop part of the way.
      const created = await h.stack.lrsweep.submitSweep({
        ...spec(name, seeds),
        training: { epochs: 10, batchSize: 20, evalEvery: 25 },
      } as never);
      const [t] = await query<{ id: string }>(h.stack.db.url, 'SELECT id FROM trials WHERE sweep_id = $1', [
        created.id,
      ]);
      return { trialId: t!.id, sweepId: created.id };
    };
    const slot = slots.tryAcquire()!;
    const reference = await trialOf([8], 'reference');
    expect(await (await runner(h.handle.prisma)(reference, job, undefined, slot)).settled).toEqual({
      status: 'completed',
    });

    // Attempt 1 trains part of the way and is stopped (as on SIGTERM): checkpointed and released.
    const trial = await trialOf([8], 'resumed');
    const first = runner(h.handle.prisma);
    // A delivery resolves once its thread is done with the trial: stopped while it trains.
    const a1 = first(trial, job, undefined, slot);
    await eventually(
      'a hundred updates stored',
      async () =>
        (
          await query<{ n: number }>(
            h.stack.db.url,
            'SELECT count(*)::int AS n FROM update_metrics WHERE trial_id = $1',
            [trial.trialId],
          )
        )[0]!.n >= 100,
      60_000,
      50,
    );
    first.stopRunning();
    expect(await (await a1).settled).toEqual({ released: true });
    const [held] = await query<{ status: string; checkpoint_step: number }>(
      h.stack.db.url,
      'SELECT status, checkpoint_step FROM trials WHERE id = $1',
      [trial.trialId],
    );
    expect(held!.status).toBe('queued');
    expect(held!.checkpoint_step).toBeGreaterThanOrEqual(100);

    // Attempt 2 resumes from it, and Postgres fails on its first write after the run started.
    let injected = 0;
    let failWrites = true;
    const failing = runner(
      intercept('$executeRaw', (strings, values, go) => {
        if (failWrites && strings.join('?').includes('lrsweep_version') && values.includes(trial.trialId)) {
          injected++;
          return Promise.reject(new Error("Can't reach database server (injected)"));
        }
        return go();
      }),
      30_000,
      { metricRetryMs: 300 },
    );
    expect(await (await failing(trial, job, undefined, slot)).settled).toEqual({ retried: true });
    failWrites = false;
    expect(injected).toBeGreaterThan(1);
    // Attempt 3 resumes from the same checkpoint and finishes.
    expect(await (await runner(h.handle.prisma)(trial, job, undefined, slot)).settled).toEqual({
      status: 'completed',
    });
    slots.release(slot);

    const ref = await trialSeries(h.stack.db.url, reference.trialId);
    const s = await trialSeries(h.stack.db.url, trial.trialId);
    expect(s.trial).toMatchObject({ status: 'completed', attempt: 3, failures: 1 });
    expect(s.updates.map(({ step, lr, train_loss }) => ({ step, lr, train_loss }))).toEqual(
      ref.updates.map(({ step, lr, train_loss }) => ({ step, lr, train_loss })),
    );
    expect(s.evals.map(({ step, val_loss }) => ({ step, val_loss }))).toEqual(
      ref.evals.map(({ step, val_loss }) => ({ step, val_loss })),
    );
    // Rows before the checkpoint are attempt 1's; the failed attempt kept none; attempt 3 wrote the rest.
    const at = held!.checkpoint_step;
    expect(s.updates.slice(0, at).every((u) => u.attempt === 1)).toBe(true);
    expect(s.updates.slice(at).every((u) => u.attempt === 3)).toBe(true);
  }, 180_000);
});
