// One short trial per schedule kind through the real API and worker processes: the rate stored
// for every update is exactly lrSequence for the same spec and horizon (a plateau schedule is
// given the trial's own evaluations, as the trainer gave them to it).
import { lrSequence, scheduleExamples } from '@lrsweep/schedules';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, type Stack, startStack } from '@lrsweep/testkit';
import type { LrsweepClient } from '@lrsweep/client';

const T = 120;
const evalEvery = 10;

describe('every schedule kind through the worker', () => {
  let stack: Stack;
  let api: LrsweepClient;
  beforeAll(async () => {
    stack = await startStack('kinds', { workers: 2 });
    api = stack.lrsweep;
  });
  afterAll(async () => stack?.stop());

  it('stores the applied rate of every update, equal to lrSequence', async () => {
    const schedules = [
      ...Object.values(scheduleExamples).map((e) => e.spec),
      { kind: 'cosine_restarts', cycles: 3, warmup: { steps: 12, startFactor: 0.1 } },
      { kind: 'one_cycle', threePhase: true, anneal: 'linear' },
      { kind: 'reduce_on_plateau', metric: 'val_acc', factor: 0.5, patience: 0, warmup: { steps: 15 } },
      { kind: 'cyclic', minFactor: 0.2, stepSizeUp: 7, mode: 'exp_range', gamma: 0.99 },
    ];
    const created = await api.submitSweep({
      name: 'every-kind',
      // 960 samples train (96 more validate, and drive the plateau schedules): 120 updates.
      dataset: { name: 'synthetic', trainSize: 1056, validationSize: 96, testSize: 200 },
      model: { kind: 'mlp', hidden: [16] },
      optimizer: { kind: 'sgd', momentum: 0.9 },
      training: { epochs: 1, batchSize: 8, evalEvery },
      grid: { baseLr: [0.05], schedule: schedules as never, seeds: 1 },
    });
    expect(created.totalSteps).toBe(T);
    const sweep = await api.follow(created.id, () => {}, 250);
    expect(sweep.counts.completed).toBe(schedules.length);

    const { trials } = await api.listTrials(created.id, { limit: 100 });
    const kinds = new Set<string>();
    for (const t of trials) {
      const s = t.config.schedule as { kind: string; metric?: string } & Parameters<typeof lrSequence>[0];
      kinds.add(s.kind);
      const stored = await query<{ step: number; lr: number }>(
        stack.db.url,
        'SELECT step, lr FROM update_metrics WHERE trial_id = $1 ORDER BY step',
        [t.id],
      );
      const evals = await query<{ val_loss: number; val_acc: number; test_loss: number | null }>(
        stack.db.url,
        "SELECT val_loss, val_acc, (metrics->>'test_loss')::float8 AS test_loss FROM evaluations WHERE trial_id = $1 ORDER BY step",
        [t.id],
      );
      // The metrics a plateau watches are the validation split's: the test split is measured
      // only after the last update, and gives other numbers.
      expect(evals.slice(0, -1).every((e) => e.test_loss === null)).toBe(true);
      expect(evals.at(-1)!.test_loss).not.toBe(evals.at(-1)!.val_loss);
      expect(stored.map((r) => r.step)).toEqual([...Array(T).keys()]);
      const metrics = evals.map((e) => (s.metric === 'val_acc' ? e.val_acc : e.val_loss));
      const expected = lrSequence(s, { baseLr: 0.05, totalSteps: T, metrics, evalEvery });
      expect(
        stored.map((r) => r.lr),
        `${s.kind} ${JSON.stringify(s)}`,
      ).toEqual(expected);
      if (s.kind === 'reduce_on_plateau') expect(Math.min(...expected)).toBeLessThan(0.05);
    }
    expect(kinds).toEqual(new Set(Object.keys(scheduleExamples)));
  });
});
