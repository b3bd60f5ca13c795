// Horizon as a grid axis (schedule-aware search issue; SWEEP_API.md v1.1): `grid.horizon` sets
// each trial's T, overriding epochs, the data order continuing across epoch boundaries; every
// schedule is laid out over its own horizon (its fractions resolve against it); rankings and the
// per-schedule view answer per horizon; `extend` adds horizons.
import { query, type Stack, startStack, trialSeries, tinySpec } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// 600 samples train (60 more validate), batch 50: 12 updates per epoch.
const base = tinySpec({
  dataset: { trainSize: 660, validationSize: 60, testSize: 100 },
  optimizer: { kind: 'adam' },
  training: { evalEvery: 10 },
});
const spec = {
  ...base,
  name: 'horizons',
  grid: {
    horizon: [20, 40],
    baseLr: [0.003, 0.01],
    schedule: [{ kind: 'constant' }, { kind: 'cosine', warmup: { steps: { fraction: 0.1 } } }],
    seeds: 2,
  },
};

interface Row {
  id: string;
  total_steps: number;
  status: string;
  config: {
    baseLr: number;
    seed: number;
    horizon?: number;
    schedule: { kind: string; warmup?: { steps: number } };
    training: { totalSteps?: number };
  };
}

describe('a horizon axis', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('horizon', { workers: 1, env: { WORKER_SLOTS: '2' } });
  }, 60_000);
  afterAll(async () => stack?.stop());

  const trialsOf = (id: string) =>
    query<Row>(
      stack.db.url,
      'SELECT id, total_steps, status::text AS status, config FROM trials WHERE sweep_id = $1 ORDER BY ordinal',
      [id],
    );

  it('runs every configuration over its own horizon, across epochs, and answers per horizon; extend adds horizons', async () => {
    const check = (await stack.client.post('/v1/sweeps/validate', spec)).body as {
      trialCount: number;
      totalSteps: number;
      totalUpdates: number;
    };
    expect(check).toMatchObject({ trialCount: 16, totalSteps: 40, totalUpdates: 8 * 20 + 8 * 40 });
    const created = await stack.lrsweep.submitSweep(spec as never);
    // Epochs say 1 (12 updates); the horizons rule. The same trial without the axis, for the data order.
    const plain = await stack.lrsweep.submitSweep({
      ...base,
      name: 'epochs',
      training: { ...base.training, epochs: 2 },
      grid: { baseLr: [0.003], schedule: [{ kind: 'constant' }], seeds: [0] },
    } as never);
    await stack.lrsweep.follow(created.id, () => {}, 250);
    await stack.lrsweep.follow(plain.id, () => {}, 250);

    const trials = await trialsOf(created.id);
    expect(trials).toHaveLength(16);
    expect(trials.every((t) => t.status === 'completed')).toBe(true);
    for (const t of trials) {
      expect(t.total_steps).toBe(t.config.horizon);
      expect(t.config.training.totalSteps).toBe(t.config.horizon);
      // Fractions resolve against the trial's own horizon: a 10% warmup is 2 updates of 20, 4 of 40.
      if (t.config.schedule.kind === 'cosine') expect(t.config.schedule.warmup?.steps).toBe(t.total_steps / 10);
      const s = await trialSeries(stack.db.url, t.id);
      expect(s.updates.map((u) => u.step)).toEqual([...Array(t.total_steps).keys()]);
      expect(s.evals.map((e) => e.step)).toEqual([...Array(t.total_steps / 10).keys()].map((k) => (k + 1) * 10));
      // Cosine anneals over its own horizon: near zero at its last update, whatever the horizon.
      if (t.config.schedule.kind === 'cosine') expect(s.updates.at(-1)!.lr).toBeLessThan(0.01 * t.config.baseLr);
    }
    // The data order runs on across epoch boundaries exactly as epochs would order it: the same
    // constant trial over 40 updates starts with the 24 updates of its 2-epoch twin, bit for bit,
    // and its T=20 sibling is the same again for 20.
    const twin = (await trialsOf(plain.id))[0]!;
    const at = (h: number) =>
      trials.find(
        (t) =>
          t.config.schedule.kind === 'constant' &&
          t.config.baseLr === 0.003 &&
          t.config.seed === 0 &&
          t.config.horizon === h,
      )!;
    const [long, short, epochs] = await Promise.all([
      trialSeries(stack.db.url, at(40).id),
      trialSeries(stack.db.url, at(20).id),
      trialSeries(stack.db.url, twin.id),
    ]);
    const pick = (u: { step: number; lr: number; train_loss: number }[]) =>
      u.map(({ step, lr, train_loss }) => ({ step, lr, train_loss }));
    expect(pick(long.updates.slice(0, 24))).toEqual(pick(epochs.updates));
    expect(pick(long.updates.slice(0, 20))).toEqual(pick(short.updates));

    // Rankings and the per-schedule view, per horizon.
    const ranking = await stack.lrsweep.results(created.id);
    expect(ranking.ranking).toHaveLength(8);
    expect(new Set(ranking.ranking.map((r) => r.config.horizon))).toEqual(new Set([20, 40]));
    const analysis = await stack.lrsweep.schedules(created.id);
    expect(analysis.schedules.map((s) => s.label).sort()).toEqual(
      ['constant · T=20', 'constant · T=40', 'cosine + warmup 2 · T=20', 'cosine + warmup 4 · T=40'].sort(),
    );
    expect(
      analysis.schedules.every((s) => s.sensitivity.length === 2 && s.horizon === Number(s.label.split('T=')[1])),
    ).toBe(true);
    // Loss against horizon: each grid schedule followed across budgets at its best LR (the cosine
    // family though its warmup resolved to 2 and 4 updates).
    expect(analysis.horizons).toHaveLength(2);
    for (const h of analysis.horizons) {
      expect(h.points.map((p) => p.horizon)).toEqual([20, 40]);
      for (const p of h.points) {
        const view = analysis.schedules.find((s) => s.scheduleKey === p.scheduleKey)!;
        expect(view.horizon).toBe(p.horizon);
        expect({ baseLr: p.baseLr, mean: p.mean }).toEqual({ baseLr: view.best!.baseLr, mean: view.best!.mean });
      }
    }
    // A sweep without the axis has no horizon view, and its ranking rows no horizon.
    expect((await stack.lrsweep.schedules(plain.id)).horizons).toEqual([]);
    expect((await stack.lrsweep.results(plain.id)).ranking[0]!.config.horizon).toBeUndefined();

    // Growing the budget: one more horizon, only its trials are new.
    const grown = await stack.lrsweep.extendSweep(created.id, { horizon: [40, 60] });
    expect(grown).toMatchObject({ addedTrials: 8, trialCount: 24 });
    await stack.lrsweep.follow(created.id, () => {}, 250);
    const after = await trialsOf(created.id);
    expect(after.filter((t) => t.total_steps === 60 && t.status === 'completed')).toHaveLength(8);
    expect(after.slice(0, 16).map((t) => t.id)).toEqual(trials.map((t) => t.id));
  }, 240_000);

  it('refuses a horizon given twice or out of range, naming the field', async () => {
    // An external trainer's horizons come from the axis: training.totalSteps as well is a 400.
    const external = await stack.client.post('/v1/sweeps', {
      name: 'ext',
      runner: { kind: 'external', pool: 'torch' },
      training: { totalSteps: 100 },
      grid: { horizon: [50], baseLr: [0.01], schedule: [{ kind: 'constant' }] },
    });
    expect(external.status).toBe(400);
    expect((external.body as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual([
      'training.totalSteps',
    ]);
    const bad = await stack.client.post('/v1/sweeps', { ...spec, grid: { ...spec.grid, horizon: [0] } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('grid.horizon');
  });
});
