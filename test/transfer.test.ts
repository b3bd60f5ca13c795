// A transfer study on the built-in workers: a width (grid.scale) × LR × schedule sweep of a small
// MLP on MNIST trains end to end, each trial on its widened model, and GET /transfer answers with
// η* per schedule and width and a law across the widths; the verdict tells the widths apart.
import { query, type Stack, startStack, tinySpec } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const scales = [0.5, 1, 2, 4];

describe('a transfer study on the built-in workers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('transfer-builtin', { workers: 2 });
  }, 60_000);
  afterAll(async () => stack?.stop());

  it('trains each width’s own model and answers /transfer with η* per width and a law', async () => {
    const created = await stack.client.post(
      '/v1/sweeps',
      tinySpec({
        name: 'widths',
        dataset: { trainSize: 360, validationSize: 60, testSize: 60 },
        training: { evalEvery: 6 },
        grid: {
          baseLr: [0.001, 0.003, 0.01, 0.03, 0.1],
          schedule: [{ kind: 'constant' }, { kind: 'cosine' }],
          scale: scales,
        },
        transfer: { width: { from: 'grid.scale' }, target: { width: 16 } },
      }),
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.trialCount).toBe(40);
    const sweep = await stack.client.waitForSweep(created.body.id, 240_000);
    expect(sweep.counts.completed + (sweep.counts.diverged ?? 0)).toBe(40);

    // Each trial trained the model its scale makes: hidden 16 × scale.
    const trials = await query<{ scale: number; hidden: number[]; status: string }>(
      stack.db.url,
      "SELECT (config->'values'->>'scale')::float8 AS scale, config->'model'->'hidden' AS hidden, status::text FROM trials WHERE sweep_id = $1",
      [created.body.id],
    );
    expect(trials).toHaveLength(40);
    for (const t of trials) expect(t.hidden).toEqual([16 * t.scale]);

    const r = await stack.client.get(`/v1/sweeps/${created.body.id}/transfer`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const a = r.body as {
      width: { from: string; baseWidth: number; target: number };
      optima: { schedule: string; width: number; lr: number; interval: [number, number] }[];
      laws: { schedule: string; axis: string; b: number; target: { scale: number; lr: number } }[];
      rankings: { scale: number; order: unknown[] }[];
      pending: number;
    };
    expect(a.width).toEqual({ from: 'grid.scale', baseWidth: 1, target: 16 });
    expect(a.pending).toBe(0);
    expect(a.optima.map((o) => o.width).sort((x, y) => x - y)).toEqual(scales.flatMap((s) => [s, s]));
    for (const o of a.optima) {
      expect(o.lr).toBeGreaterThan(0);
      expect(o.interval[0]).toBeLessThanOrEqual(o.lr);
      expect(o.interval[1]).toBeGreaterThanOrEqual(o.lr);
    }
    expect(a.laws.map((l) => [l.schedule, l.axis]).sort()).toEqual([
      ['constant', 'width'],
      ['cosine', 'width'],
    ]);
    for (const l of a.laws) {
      expect(Number.isFinite(l.b)).toBe(true);
      expect(l.target.scale).toBe(16);
    }
    expect(a.rankings.map((x) => x.scale)).toEqual(scales);

    // The verdict tells the widths apart: each schedule at each scale is its own row.
    const verdict = (await stack.client.get(`/v1/sweeps/${created.body.id}/schedules`)).body as {
      schedules: { label: string }[];
    };
    expect(verdict.schedules.map((s) => s.label).sort()).toEqual(
      ['constant', 'cosine'].flatMap((k) => scales.map((s) => `${k} · scale=${s}`)).sort(),
    );
  }, 300_000);

  it('trains a μP study: each trial’s model at its width multiplier, the readout at zero, /transfer under mup', async () => {
    const created = await stack.client.post(
      '/v1/sweeps',
      tinySpec({
        name: 'mup-widths',
        dataset: { trainSize: 360, validationSize: 60, testSize: 60 },
        model: { parametrization: 'mup' },
        training: { evalEvery: 6 },
        grid: { baseLr: [0.003, 0.01, 0.03], scale: [1, 2, 4] },
        transfer: { width: { from: 'grid.scale' }, baseWidth: 2 },
      }),
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const sweep = await stack.client.waitForSweep(created.body.id, 240_000);
    expect(sweep.counts.completed).toBe(9);
    const trials = await query<{ scale: number; model: { hidden: number[]; widthMultiplier: number }; loss0: number }>(
      stack.db.url,
      `SELECT (t.config->'values'->>'scale')::float8 AS scale, t.config->'model' AS model,
              (SELECT train_loss FROM update_metrics m WHERE m.trial_id = t.id AND m.step = 0) AS loss0
         FROM trials t WHERE t.sweep_id = $1`,
      [created.body.id],
    );
    for (const t of trials) {
      expect(t.model).toMatchObject({ hidden: [16 * t.scale], parametrization: 'mup', widthMultiplier: t.scale / 2 });
      // μP's readout starts at zero: every class equally likely, so the first loss is ln 10 exactly
      // (the standard parametrization's random readout starts elsewhere).
      expect(t.loss0).toBeCloseTo(Math.log(10), 5);
    }
    const a = (await stack.client.get(`/v1/sweeps/${created.body.id}/transfer`)).body;
    // Not declared in the block: the model's own parametrization.
    expect(a.parametrization).toBe('mup');
    expect(a.laws).toHaveLength(1);
  }, 300_000);

  it('refuses grid.scale on a model without a width, naming the field', async () => {
    const r = await stack.client.post('/v1/sweeps', {
      name: 'lenet-widths',
      dataset: { name: 'mnist', trainSize: 360, testSize: 60 },
      model: { kind: 'lenet' },
      grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], scale: [1, 2] },
    });
    expect(r.status).toBe(400);
    expect(r.body.issues).toContainEqual({
      path: 'grid.scale',
      message: 'a lenet model has no width to scale (mlp, cnn, vit and gpt do)',
    });
  });
});
