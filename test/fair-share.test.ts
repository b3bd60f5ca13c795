// Fair share and priorities on one worker pool (the fleet issue), through the real API, Redis and
// workers. The policy (contract deliveryPriority): a sweep's priority is a band, higher bands
// first; inside a band trials take turns by queue position, a newly submitted sweep starting at
// the pool's next position, so it alternates with the sweeps before it. `maxParallel` holds a
// sweep's extra trials back in Postgres (no job in Redis) until one of its running trials ends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, type Stack, startStack } from '@lrsweep/testkit';

const tiny = (name: string, seeds: number, extra: Record<string, unknown> = {}) => ({
  name,
  dataset: { name: 'synthetic', trainSize: 256, testSize: 64 },
  model: { kind: 'mlp', hidden: [8] },
  training: { epochs: 2, batchSize: 32, evalEvery: 8 },
  grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], seeds },
  ...extra,
});

interface Row {
  sweep_id: string;
  attempt: number;
  status: string;
  started_at: Date;
  finished_at: Date;
}

/** Every trial of the sweeps, in the order they finished. */
const finishOrder = (stack: Stack, ids: string[]) =>
  query<Row>(
    stack.db.url,
    `SELECT sweep_id, attempt, status::text AS status, started_at, finished_at FROM trials WHERE sweep_id = ANY($1::uuid[]) ORDER BY finished_at, ordinal`,
    [ids],
  );

describe('fair share on one pool (one worker, one slot)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('fair', { workers: 1, env: { WORKER_SLOTS: '1' } });
  }, 60_000);
  afterAll(async () => stack?.stop());

  it('a big sweep submitted first does not starve a small one submitted after it: both progress', async () => {
    const big = await stack.lrsweep.submitSweep(tiny('big', 12) as never);
    const small = await stack.lrsweep.submitSweep(tiny('small', 3) as never);
    await stack.lrsweep.follow(big.id, () => {}, 200);
    await stack.lrsweep.follow(small.id, () => {}, 200);
    const order = await finishOrder(stack, [big.id, small.id]);
    expect(order).toHaveLength(15);
    expect(order.every((t) => t.status === 'completed' && t.attempt === 1)).toBe(true);
    const who = order.map((t) => (t.sweep_id === big.id ? 'B' : 's')).join('');
    // First come, first served would give BBBBBBBBBBBBsss. Taking turns, the small sweep is done
    // while most of the big one still waits, and the big one kept going meanwhile.
    const smallDone = who.lastIndexOf('s');
    expect(smallDone, who).toBeLessThanOrEqual(7);
    expect(who.slice(0, smallDone).includes('B'), who).toBe(true);
  }, 120_000);

  it('a sweep of higher priority submitted later runs first', async () => {
    const low = await stack.lrsweep.submitSweep(tiny('low', 6) as never);
    const high = await stack.lrsweep.submitSweep(tiny('high', 3, { priority: 5 }) as never);
    // Its deliveries are in the queue once the submit answers (Postgres and this test share the clock).
    const highQueued = Date.now();
    await stack.lrsweep.follow(low.id, () => {}, 200);
    await stack.lrsweep.follow(high.id, () => {}, 200);
    const rows = await finishOrder(stack, [low.id, high.id]);
    const who = rows.map((t) => (t.sweep_id === high.id ? 'H' : 'l')).join('');
    expect(who).toHaveLength(9);
    // Only the low trials claimed before the high sweep's deliveries were queued (its first, or
    // more on a slow machine) may end before the high ones; every low trial claimed after waits
    // for all three.
    const lowsBefore = rows.filter((t) => t.sweep_id === low.id && t.started_at.getTime() < highQueued).length;
    expect(
      who.lastIndexOf('H'),
      `${who}, ${lowsBefore} low trials started before the high sweep's deliveries were queued`,
    ).toBeLessThanOrEqual(lowsBefore + 2);
    // And the priority showed: low trials ran after every high one.
    expect(who.endsWith('l'), who).toBe(true);
  }, 120_000);

  it('refuses a priority out of range and a maxParallel that is not a positive integer, naming the field', async () => {
    for (const [field, value] of [
      ['priority', 11],
      ['priority', 1.5],
      ['maxParallel', 0],
      ['maxParallel', -2],
    ] as const) {
      const r = await stack.client.post('/v1/sweeps', tiny('bad', 1, { [field]: value }));
      expect(r.status, `${field}=${value}`).toBe(400);
      expect(JSON.stringify(r.body)).toContain(field);
    }
  });
});

describe('maxParallel (one worker, three slots)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('maxpar', { workers: 1, env: { WORKER_SLOTS: '3' } });
  }, 60_000);
  afterAll(async () => stack?.stop());

  /** The most attempts of the sweep that were under way at one moment (from their history). */
  const peakParallel = async (sweepId: string) => {
    const spans = await query<{ started_at: Date; ended_at: Date }>(
      stack.db.url,
      'SELECT a.started_at, a.ended_at FROM trial_attempts a JOIN trials t ON t.id = a.trial_id WHERE t.sweep_id = $1',
      [sweepId],
    );
    const events = spans
      .flatMap((s) => [
        [s.started_at.getTime(), 1],
        [s.ended_at.getTime(), -1],
      ])
      .sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
    let now = 0;
    let peak = 0;
    for (const [, d] of events) peak = Math.max(peak, (now += d!));
    return { peak, attempts: spans.length };
  };

  it('never runs more than maxParallel trials of the sweep, holds the rest out of the queue, and runs every one exactly once (extended too)', async () => {
    const spec = tiny('limited', 6, { maxParallel: 2, training: { epochs: 6, batchSize: 32, evalEvery: 8 } });
    const s = await stack.lrsweep.submitSweep(spec as never);
    // Held trials have no delivery: Postgres keeps them; the scaler sees only what may run.
    const jobs = await query<{ n: number }>(
      stack.db.url,
      "SELECT count(*)::int AS n FROM trials WHERE sweep_id = $1 AND job_id IS NOT NULL AND status = 'queued'",
      [s.id],
    );
    expect(jobs[0]!.n).toBeLessThanOrEqual(2);
    const backlog = (await stack.client.get('/scaling/backlog?pool=default')).body as {
      backlog: number;
      queued: number;
    };
    expect(backlog.backlog).toBeLessThanOrEqual(2);
    // Grown while it runs: the new trials wait their turn like the others.
    const grown = await stack.lrsweep.extendSweep(s.id, { seeds: 8 });
    expect(grown.addedTrials).toBe(2);
    await stack.lrsweep.follow(s.id, () => {}, 200);
    const trials = await query<{ status: string; attempt: number }>(
      stack.db.url,
      'SELECT status::text AS status, attempt FROM trials WHERE sweep_id = $1',
      [s.id],
    );
    expect(trials).toHaveLength(8);
    expect(trials.every((t) => t.status === 'completed' && t.attempt === 1)).toBe(true);
    const { peak, attempts } = await peakParallel(s.id);
    expect(attempts).toBe(8);
    expect(peak).toBe(2);
  }, 180_000);

  it('leaves the other slots to other sweeps', async () => {
    const limited = await stack.lrsweep.submitSweep(
      tiny('limited-1', 4, { maxParallel: 1, training: { epochs: 6, batchSize: 32, evalEvery: 8 } }) as never,
    );
    const free = await stack.lrsweep.submitSweep(
      tiny('unlimited', 4, { training: { epochs: 6, batchSize: 32, evalEvery: 8 } }) as never,
    );
    await stack.lrsweep.follow(limited.id, () => {}, 200);
    await stack.lrsweep.follow(free.id, () => {}, 200);
    expect((await peakParallel(limited.id)).peak).toBe(1);
    // The unlimited sweep used the slots the limited one could not.
    expect((await peakParallel(free.id)).peak).toBeGreaterThanOrEqual(2);
  }, 180_000);
});
