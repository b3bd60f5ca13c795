// Growing a sweep (SWEEP_API.md v1.1, POST /v1/sweeps/:id/extend) through the real API and a
// worker: new values are merged, overlaps ignored, existing trials never change, the new trials
// run and join the ranking; a cancelled sweep and a reused Idempotency-Key with another body are 409.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiRequestError } from '@lrsweep/client';
import { query, type Stack, startStack, tinySpec } from '@lrsweep/testkit';

const spec = tinySpec({
  name: 'grow-me',
  dataset: { trainSize: 300, testSize: 64 },
  grid: { baseLr: [0.01, 0.1], seeds: 2 },
});

describe('extending a sweep', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('extend', { workers: 1 });
  }, 60_000);
  afterAll(async () => stack?.stop());

  const trialsOf = (id: string) =>
    query<{
      id: string;
      identity: string;
      ordinal: number;
      status: string;
      attempt: number;
      config: { baseLr: number; seed: number; schedule: { kind: string } };
    }>(
      stack.db.url,
      'SELECT id, identity, ordinal, status::text AS status, attempt, config FROM trials WHERE sweep_id = $1 ORDER BY ordinal',
      [id],
    );
  const fail = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => e as ApiRequestError,
    );

  it('merges new seeds, LRs and schedules, ignores overlaps, and runs only the new trials', async () => {
    const created = await stack.lrsweep.submitSweep(spec as never);
    await stack.lrsweep.follow(created.id, () => {}, 200);
    const before = await trialsOf(created.id);
    expect(before).toHaveLength(4);

    // seeds 3 = [0, 1, 2]: one more seed for each of the 2 configurations; 0.1 is already there.
    const grown = await stack.lrsweep.extendSweep(created.id, {
      seeds: 3,
      baseLr: [0.1, 0.03],
      schedule: [{ kind: 'constant' }, { kind: 'cosine' }],
    });
    // 3 LRs × 2 schedules × 3 seeds = 18, of which 4 existed.
    expect(grown).toEqual({ id: created.id, addedTrials: 14, trialCount: 18, delivery: 'queued' });
    const after = await trialsOf(created.id);
    // Existing trials are untouched: same ids, identities, ordinals, states, attempts.
    expect(after.slice(0, 4)).toEqual(before);
    expect(after.slice(4).map((t) => t.ordinal)).toEqual([...Array(14).keys()].map((i) => 4 + i));
    expect(new Set(after.map((t) => t.identity)).size).toBe(18);
    const sweep = await stack.lrsweep.getSweep(created.id);
    expect(sweep.trialCount).toBe(18);
    expect((sweep.spec as { grid: { baseLr: number[]; seeds: number[] } }).grid).toMatchObject({
      baseLr: [0.01, 0.1, 0.03],
      seeds: [0, 1, 2],
    });
    await stack.lrsweep.follow(created.id, () => {}, 200);
    const done = await trialsOf(created.id);
    expect(done.every((t) => t.status === 'completed')).toBe(true);
    // Nothing ran twice: the old trials kept their one attempt.
    expect(done.slice(0, 4).every((t) => t.attempt === 1)).toBe(true);
    const r = await stack.lrsweep.results(created.id);
    expect(r.ranking).toHaveLength(6);
    expect(r.ranking.every((row) => row.n === 3)).toBe(true);
    // Only overlaps: nothing to add.
    expect(await stack.lrsweep.extendSweep(created.id, { baseLr: [0.01], seeds: [1, 2] })).toMatchObject({
      addedTrials: 0,
      trialCount: 18,
    });
  }, 120_000);

  it('extends a running sweep from two requests at once: every new trial exactly once', async () => {
    const created = await stack.lrsweep.submitSweep({ ...spec, name: 'concurrent-growth' } as never);
    // Overlapping growths at the same moment, while the sweep runs.
    const [a, b] = await Promise.all([
      stack.lrsweep.extendSweep(created.id, { seeds: 3, baseLr: [0.03] }),
      stack.lrsweep.extendSweep(created.id, { seeds: [1, 2, 3], baseLr: [0.03, 0.3] }),
    ]);
    const trials = await trialsOf(created.id);
    // The union: 4 LRs × 4 seeds, each once, whichever request went first.
    expect(trials).toHaveLength(16);
    expect(new Set(trials.map((t) => `${t.config.baseLr}/${t.config.seed}`)).size).toBe(16);
    expect(new Set(trials.map((t) => t.ordinal)).size).toBe(16);
    expect(a.addedTrials + b.addedTrials).toBe(12);
    expect(Math.max(a.trialCount, b.trialCount)).toBe(16);
    await stack.lrsweep.follow(created.id, () => {}, 200);
    const done = await trialsOf(created.id);
    // Each ran once (Adam at 0.3 may diverge: that is an outcome too).
    expect(
      done.every((t) => ['completed', 'diverged'].includes(t.status) && t.attempt === 1),
      JSON.stringify(done.map((t) => [t.status, t.attempt])),
    ).toBe(true);
    const rows = await query<{ n: number }>(
      stack.db.url,
      'SELECT count(*)::int AS n FROM sweep_configs WHERE sweep_id = $1',
      [created.id],
    );
    expect(rows[0]!.n).toBe(4);
  }, 120_000);

  it('answers a repeated Idempotency-Key with the first answer, and 409 for another body', async () => {
    const created = await stack.lrsweep.submitSweep({ ...spec, name: 'keyed-growth' } as never);
    const first = await stack.lrsweep.extendSweep(created.id, { seeds: 4 }, { idempotencyKey: 'grow-1' });
    expect(first).toMatchObject({ addedTrials: 4, trialCount: 8 });
    expect(await stack.lrsweep.extendSweep(created.id, { seeds: 4 }, { idempotencyKey: 'grow-1' })).toEqual(first);
    expect((await trialsOf(created.id)).length).toBe(8);
    const conflict = await fail(stack.lrsweep.extendSweep(created.id, { seeds: 5 }, { idempotencyKey: 'grow-1' }));
    expect(conflict).toMatchObject({ status: 409, code: 'IDEMPOTENCY_CONFLICT' });
    await stack.lrsweep.follow(created.id, () => {}, 200);
  }, 120_000);

  it('refuses a cancelled sweep, bad values and axes it does not have, naming the field', async () => {
    const created = await stack.lrsweep.submitSweep({
      ...spec,
      name: 'to-cancel',
      grid: { ...spec.grid, seeds: 20 },
    } as never);
    await stack.lrsweep.cancelSweep(created.id);
    expect(await fail(stack.lrsweep.extendSweep(created.id, { seeds: 21 }))).toMatchObject({
      status: 409,
      code: 'SWEEP_CANCELLED',
    });
    const other = await stack.lrsweep.submitSweep({ ...spec, name: 'bad-growth' } as never);
    const bad = await fail(stack.lrsweep.extendSweep(other.id, { baseLr: [-1] }));
    expect(bad?.status).toBe(400);
    expect(bad?.issues.map((i) => i.path)).toContain('baseLr[0]');
    const empty = await fail(stack.lrsweep.extendSweep(other.id, {}));
    expect(empty?.status).toBe(400);
    const horizon = await fail(stack.lrsweep.extendSweep(other.id, { horizon: [100] }));
    expect(horizon).toMatchObject({ status: 400 });
    expect(horizon?.issues.map((i) => i.path)).toEqual(['horizon']);
    const axis = await fail(stack.lrsweep.extendSweep(other.id, { config: { width: [64] } }));
    expect(axis?.issues.map((i) => i.path)).toEqual(['config.width']);
    expect(await fail(stack.lrsweep.extendSweep('00000000-0000-4000-8000-000000000000', { seeds: 3 }))).toMatchObject({
      status: 404,
    });
    await stack.lrsweep.follow(other.id, () => {}, 200);
  }, 120_000);
});
