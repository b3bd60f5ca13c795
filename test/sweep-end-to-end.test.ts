// The whole path with real processes: API → BullMQ on Redis → two worker processes (TF.js wasm)
// → Postgres → ranking. No mocks.
import { lrSequence } from '@lrsweep/schedules';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, type Stack, startStack } from '@lrsweep/testkit';
import type { LrsweepClient, SweepSpecInput } from '@lrsweep/client';

const spec: SweepSpecInput = {
  name: 'e2e-2x2x2',
  dataset: { name: 'mnist', trainSize: 640, testSize: 200 },
  model: { kind: 'mlp', hidden: [32] },
  optimizer: { kind: 'adam' },
  training: { epochs: 1, batchSize: 64, evalEvery: 4 },
  grid: {
    baseLr: [0.001, 0.01],
    schedule: [{ kind: 'constant' }, { kind: 'cosine', warmup: { steps: 2 } }],
    seeds: [0, 1],
  },
  objective: { metric: 'val_loss', mode: 'min', aggregate: 'final' },
};
// v1.1: 64 of the 640 samples validate (ceil(640 / 10)); 1 epoch × ceil(576 / 64) updates.
const T = 9;

describe('a sweep end to end', () => {
  let stack: Stack;
  let db: Stack['db'];
  let api: LrsweepClient;
  beforeAll(async () => {
    stack = await startStack('e2e', { workers: 2 });
    db = stack.db;
    api = stack.lrsweep;
  });
  afterAll(async () => stack?.stop());

  it('trains every trial once, stores the applied LR of every update, and ranks across seeds', async () => {
    const created = await api.submitSweep(spec);
    expect(created).toMatchObject({ trialCount: 8, configCount: 4, totalSteps: T });
    const sweep = await api.follow(created.id, () => {}, 250);
    expect(sweep.counts).toMatchObject({ total: 8, completed: 8, failed: 0, diverged: 0, queued: 0, running: 0 });

    const { trials } = await api.listTrials(created.id, { limit: 100 });
    expect(trials).toHaveLength(8);
    for (const t of trials) {
      expect(t).toMatchObject({ status: 'completed', attempt: 1, totalSteps: T, backend: 'wasm' });
      const rows = await query<{ step: number; lr: number }>(
        db.url,
        'SELECT step, lr FROM update_metrics WHERE trial_id = $1 ORDER BY step',
        [t.id],
      );
      expect(rows.map((r) => r.step)).toEqual([...Array(T).keys()]);
      expect(rows.map((r) => r.lr)).toEqual(lrSequence(t.config.schedule, { baseLr: t.config.baseLr, totalSteps: T }));
      const metrics = await api.trialMetrics(t.id);
      expect(metrics.updates.map((u) => u.lr)).toEqual(rows.map((r) => r.lr));
      expect(metrics.evals.map((e) => e.step)).toEqual([4, 8, 9]);
      // The test split is measured once, after the last update, beside the validation metrics.
      expect(metrics.evals.map((e) => Object.keys(e.metrics ?? {}).sort())).toEqual([
        [],
        [],
        ['test_acc', 'test_loss'],
      ]);
      expect(t.test).toEqual({
        test_loss: metrics.evals.at(-1)!.metrics!.test_loss,
        test_acc: metrics.evals.at(-1)!.metrics!.test_acc,
      });
      // Its timeline: queued, claimed, training, finished, in that order (Postgres's and the
      // worker's clocks are this machine's); the training loop fits inside its own span.
      const [queued, claimed, training, finished] = [t.queuedAt, t.startedAt!, t.trainingStartedAt!, t.finishedAt!].map(
        (x) => Date.parse(x),
      );
      expect(queued).toBeLessThanOrEqual(claimed!);
      expect(claimed).toBeLessThanOrEqual(training! + 1);
      expect(t.trainMs).toBeGreaterThan(0);
      expect(training! + t.trainMs!).toBeLessThanOrEqual(finished! + 1);
    }

    // The ranking the test computes itself from the raw evaluation rows.
    const finals = await query<{ config_id: string; val_loss: number }>(
      db.url,
      `SELECT t.config_id, e.val_loss FROM evaluations e JOIN trials t ON t.id = e.trial_id
        WHERE t.sweep_id = $1 AND e.step = t.total_steps`,
      [created.id],
    );
    const byConfig = new Map<string, number[]>();
    for (const f of finals) byConfig.set(f.config_id, [...(byConfig.get(f.config_id) ?? []), f.val_loss]);
    const expected = [...byConfig.entries()]
      .map(([configId, v]) => ({ configId, n: v.length, mean: v.reduce((a, b) => a + b, 0) / v.length }))
      .sort((a, b) => a.mean - b.mean);

    const results = await api.results(created.id);
    expect(results.provisional).toBe(false);
    expect(results.ranking).toHaveLength(4);
    expect(results.ranking.map((r) => r.configId)).toEqual(expected.map((e) => e.configId));
    results.ranking.forEach((row, i) => {
      expect(row.rank).toBe(i + 1);
      expect(row.n).toBe(2);
      expect(row.mean).toBeCloseTo(expected[i]!.mean, 12);
    });
    expect(results.selectedOn).toBe('validation');
    // Both workers took part (each trial records the worker that trained it).
    expect(new Set(trials.map((t) => t.workerId))).toEqual(new Set(['e2e-1', 'e2e-2']));
  });
});
