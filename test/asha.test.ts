// ASHA with annealed rungs (the schedule-aware search issue), through the API and two workers on
// the real Postgres and Redis: every configuration starts, pauses checkpointed at each rung, is
// judged on its seeds' mean annealed estimate, and only the best 1/η go on, from their checkpoints;
// the rest end `pruned`. The decisions are checked against the stored estimates, the promoted
// trials against an uninterrupted run of the same spec (bit for bit), and the updates trained
// against the full grid's.
import {
  eventually,
  type FaultStack,
  learningSeries,
  query,
  startFaultStack,
  trialSeries,
  tinySpec,
} from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// 600 samples train (60 validate), batch 50: 12 updates an epoch, 5 epochs: T = 60.
const spec = (name: string, search: Record<string, unknown> | undefined, grid: Record<string, unknown> = {}) =>
  tinySpec({
    name,
    dataset: { trainSize: 660, validationSize: 60, testSize: 100 },
    model: { hidden: [32], dropout: 0.1 },
    optimizer: { kind: 'adam' },
    training: { epochs: 5, evalEvery: 7 },
    grid: {
      baseLr: [0.0003, 0.003, 0.03],
      schedule: [{ kind: 'constant' }, { kind: 'cosine' }],
      seeds: [1, 2],
      ...grid,
    },
    ...(search ? { search } : {}),
  });
// Rungs at 7 and 21 updates, then the horizon (60); η = 3: 6 configurations → 2 → 1.
const asha = { kind: 'asha', reduction: 3, minBudget: 7 };

interface TrialRow {
  id: string;
  config_id: string;
  seed: number;
  status: string;
  pruned_rung: number | null;
  base_lr: number;
  kind: string;
}
interface RungRow {
  trial_id: string;
  config_id: string;
  rung: number;
  step: number;
  value: number | null;
  cooldown_steps: number;
}

describe('ASHA with annealed rungs', () => {
  let stack: FaultStack;
  let db: FaultStack['db'];
  let api: FaultStack['api'];
  const trialsOf = (sweepId: string) =>
    query<TrialRow>(
      db.url,
      `SELECT id, config_id, (config ->> 'seed')::int AS seed, status::text AS status, pruned_rung, (config ->> 'baseLr')::float8 AS base_lr, config -> 'schedule' ->> 'kind' AS kind
         FROM trials WHERE sweep_id = $1 ORDER BY ordinal`,
      [sweepId],
    );
  const rungsOf = (sweepId: string) =>
    query<RungRow>(
      db.url,
      'SELECT r.trial_id, t.config_id, r.rung, r.step, r.value, r.cooldown_steps FROM rung_results r JOIN trials t ON t.id = r.trial_id WHERE t.sweep_id = $1',
      [sweepId],
    );

  beforeAll(async () => {
    stack = await startFaultStack('asha', { checkpointEvery: 10 });
    ({ db, api } = stack);
    // Two workers: rung reports race, and decisions must still be taken once.
    await Promise.all([stack.worker('asha-1'), stack.worker('asha-2')]);
  }, 60_000);
  afterAll(async () => stack?.stop());

  it('halves on seed-mean annealed estimates, prunes the rest at their rung, and trains a fraction of the grid', async () => {
    const check = await api.post('/v1/sweeps/validate', spec('asha', asha));
    // Updates at most: 12 trials × 7, 4 × 14, 2 × 39, and the estimates' cooldowns (15%: 1 and 3 updates).
    expect(check.body).toMatchObject({
      valid: true,
      trialCount: 12,
      totalUpdates: 720,
      asha: { rungs: [7, 21, 60], reduction: 3, updates: 84 + 56 + 78 + 12 * 1 + 4 * 3, gridUpdates: 720 },
    });

    const created = await api.post('/v1/sweeps', spec('asha', asha));
    expect(created.status).toBe(201);
    const sweepId = created.body.id as string;
    // A trial waiting at a rung counts as queued.
    await eventually(
      'a trial waits at a rung',
      async () => {
        const [w] = await query<{ n: number }>(
          db.url,
          "SELECT count(*)::int AS n FROM trials WHERE sweep_id = $1 AND rung_waiting AND status = 'queued'",
          [sweepId],
        );
        if (!w!.n) return false;
        const s = (await api.get(`/v1/sweeps/${sweepId}`)).body;
        return s.counts.queued >= 1 && s.counts.pruned + s.counts.queued + s.counts.running + s.counts.completed === 12;
      },
      90_000,
      20,
    );
    const done = await api.waitForSweep(sweepId, 180_000);
    expect(done.status).toBe('completed');
    expect(done.counts).toMatchObject({ completed: 2, pruned: 10, queued: 0, running: 0, failed: 0 });

    const trials = await trialsOf(sweepId);
    const rungs = await rungsOf(sweepId);
    // The decisions, recomputed from the stored estimates: best 2 of 6 at rung 0, best 1 of 2 at rung 1.
    const meanAt = (k: number) => {
      const m = new Map<string, number[]>();
      for (const r of rungs.filter((r) => r.rung === k))
        m.set(r.config_id, [...(m.get(r.config_id) ?? []), r.value ?? Infinity]);
      return [...m]
        .map(([c, vs]) => ({ c, n: vs.length, mean: vs.reduce((a, b) => a + b, 0) / vs.length }))
        .sort((a, b) => a.mean - b.mean || (a.c < b.c ? -1 : 1));
    };
    const rung0 = meanAt(0);
    expect(rung0.map((r) => r.n)).toEqual([2, 2, 2, 2, 2, 2]);
    const rung1 = meanAt(1);
    expect(rung1.map((r) => r.c).sort()).toEqual(
      rung0
        .slice(0, 2)
        .map((r) => r.c)
        .sort(),
    );
    const winner = rung1[0]!.c;
    expect(trials.filter((t) => t.status === 'completed').map((t) => t.config_id)).toEqual([winner, winner]);
    for (const t of trials.filter((t) => t.status === 'pruned'))
      expect(t.pruned_rung).toBe(rung0.slice(0, 2).some((r) => r.c === t.config_id) ? 1 : 0);
    // Annealed: each estimate trained its cooldown (15% of the rung's budget), off the trial's rows.
    expect(new Set(rungs.map((r) => `${r.rung}:${r.step}:${r.cooldown_steps}`))).toEqual(new Set(['0:7:1', '1:21:3']));

    // What was trained: each trial's rows stop at the rung it was pruned at; a fraction of the grid's 720 updates.
    let trained = 0;
    for (const t of trials) {
      const s = await trialSeries(db.url, t.id);
      const expected = t.status === 'completed' ? 60 : [7, 21][t.pruned_rung!]!;
      expect(s.updates.map((u) => u.step)).toEqual([...Array(expected).keys()]);
      trained += expected;
    }
    expect(trained).toBe(84 + 56 + 78);

    // A promoted trial, paused twice and resumed from its rung checkpoints, is bit-identical to an uninterrupted run.
    const best = trials.find((t) => t.config_id === winner && t.seed === 1)!;
    const plain = await api.post(
      '/v1/sweeps',
      spec('plain', undefined, { baseLr: [best.base_lr], schedule: [{ kind: best.kind }], seeds: [1] }),
    );
    await api.waitForSweep(plain.body.id, 120_000);
    const [ref] = await trialsOf(plain.body.id);
    const [mine, theirs] = await Promise.all([trialSeries(db.url, best.id), trialSeries(db.url, ref!.id)]);
    expect(learningSeries(mine)).toEqual(learningSeries(theirs));

    // The ranking has the configuration that reached the horizon; the pruned ones are listed apart with their rung.
    const results = (await api.get(`/v1/sweeps/${sweepId}/results`)).body;
    expect(results.ranking.map((r: { configId: string; n: number }) => [r.configId, r.n])).toEqual([[winner, 2]]);
    expect(results.pruned).toHaveLength(5);
    const budgets = Object.fromEntries(
      results.pruned.map((p: { configId: string; budget: number }) => [p.configId, p.budget]),
    );
    for (const { c } of rung0.slice(2)) expect(budgets[c]).toBe(7);
    expect(budgets[rung1[1]!.c]).toBe(21);
    // Trials list them as pruned.
    const listed = (await api.get(`/v1/sweeps/${sweepId}/trials?status=pruned&limit=100`)).body;
    expect(listed.trials ?? listed.items ?? listed).toHaveLength(10);
  }, 300_000);

  it('raw rungs compare the loss at the rung as it stands', async () => {
    const created = await api.post(
      '/v1/sweeps',
      spec(
        'raw',
        { ...asha, rungMetric: 'raw' },
        { baseLr: [0.003, 0.03], schedule: [{ kind: 'cosine' }], seeds: [1] },
      ),
    );
    const sweepId = created.body.id as string;
    await api.waitForSweep(sweepId, 120_000);
    const rungs = await rungsOf(sweepId);
    expect(rungs.length).toBeGreaterThanOrEqual(2);
    for (const r of rungs) {
      expect(r.cooldown_steps).toBe(0);
      const [e] = await query<{ val_loss: number }>(
        db.url,
        'SELECT val_loss FROM evaluations WHERE trial_id = $1 AND step = $2',
        [r.trial_id, r.step],
      );
      expect(r.value).toBe(e!.val_loss);
    }
    const trials = await trialsOf(sweepId);
    expect(trials.map((t) => t.status).sort()).toEqual(['completed', 'pruned']);
  }, 180_000);

  it('refuses what ASHA cannot do, naming the field', async () => {
    const bad = async (body: unknown, path: string) => {
      const r = await api.post('/v1/sweeps', body);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(JSON.stringify(r.body.issues ?? r.body)).toContain(path);
    };
    await bad(spec('h', asha, { horizon: [30, 60] }), 'grid.horizon');
    await bad(spec('min', { ...asha, minBudget: 60 }), 'search.minBudget');
    await bad(spec('warm', asha, { schedule: [{ kind: 'cosine', warmup: { steps: 7 } }] }), 'search.minBudget');
    await bad(spec('max', { ...asha, minBudget: 30, maxBudget: 20 }), 'search.minBudget');
    // External trainers run ASHA too (test/agents-pytorch.test.ts): one horizon, and cooldowns one report can carry.
    const external = (training: object, search: object) => ({
      name: 'ext',
      runner: { kind: 'external', pool: 'gpu' },
      training,
      grid: { baseLr: [0.1], schedule: [{ kind: 'constant' }], seeds: 1 },
      search: { ...asha, ...search },
    });
    await bad(external({ totalSteps: 100 }, { maxBudget: 100 }), 'training.totalSteps');
    await bad(external({}, {}), 'training.totalSteps');
    await bad(
      external({}, { minBudget: 100_000, maxBudget: 1_000_000, cooldown: { fraction: 0.2 } }),
      'search.cooldown.fraction',
    );
    const ok = await api.post('/v1/sweeps/validate', external({ totalSteps: 100 }, {}));
    expect(ok.body, JSON.stringify(ok.body)).toMatchObject({ valid: true, asha: { rungs: [7, 21, 63, 100] } });
    const created = await api.post(
      '/v1/sweeps',
      spec('ext', asha, { baseLr: [0.003], schedule: [{ kind: 'constant' }], seeds: [1] }),
    );
    const ext = await api.post(`/v1/sweeps/${created.body.id}/extend`, { seeds: [5] });
    expect(ext.status).toBe(400);
    expect(JSON.stringify(ext.body)).toContain('search.kind');
  });
});
