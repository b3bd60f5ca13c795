// Results on a real small sweep (MNIST, 3 schedules × 3 base LRs × 3 seeds), each answer checked
// against what the test computes itself from the raw metric rows.
import { lrSequence } from '@lrsweep/schedules';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapToken, pairedTTest, query, type Stack, startStack, tinySpec } from '@lrsweep/testkit';
import { ApiRequestError, type LrsweepClient } from '@lrsweep/client';

// 100 of the 1 000 samples validate: 2 epochs × ceil(900 / 50) updates.
const T = 36;
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

describe('results of a real sweep', () => {
  let stack: Stack;
  let db: Stack['db'];
  let api: LrsweepClient;
  let sweepId: string;
  let apiUrl: string;
  let evals: {
    trial_id: string;
    config_id: string;
    seed: number;
    step: number;
    val_loss: number;
    val_acc: number;
    train_loss: number;
  }[];

  beforeAll(async () => {
    stack = await startStack('results', { workers: 2 });
    db = stack.db;
    api = stack.lrsweep;
    apiUrl = stack.api.url;
    const created = await api.submitSweep(
      tinySpec({
        name: 'results',
        dataset: { trainSize: 1000, testSize: 300 },
        model: { hidden: [32] },
        training: { epochs: 2, evalEvery: 10 },
        grid: {
          baseLr: [0.001, 0.01, 0.1],
          schedule: [{ kind: 'constant' }, { kind: 'cosine' }, { kind: 'linear' }],
          seeds: 3,
        },
      }) as never,
    );
    sweepId = created.id;
    await api.follow(sweepId, () => {}, 250);
    evals = await query(
      db.url,
      `SELECT e.trial_id, t.config_id, (t.config->>'seed')::int AS seed, e.step, e.val_loss, e.val_acc, e.train_loss
         FROM evaluations e JOIN trials t ON t.id = e.trial_id WHERE t.sweep_id = $1 AND t.status = 'completed' ORDER BY e.trial_id, e.step`,
      [sweepId],
    );
  }, 240_000);
  afterAll(async () => stack?.stop());

  /** Per trial, the objective computed from its evaluation rows. */
  const trialValues = (metric: 'val_loss' | 'val_acc' | 'train_loss', aggregate: 'final' | 'best' | 'auc') => {
    const byTrial = new Map<string, typeof evals>();
    for (const e of evals) byTrial.set(e.trial_id, [...(byTrial.get(e.trial_id) ?? []), e]);
    return [...byTrial.values()].map((rows) => {
      const v = rows.map((r) => r[metric]);
      const value =
        aggregate === 'final'
          ? v.at(-1)!
          : aggregate === 'auc'
            ? mean(v)
            : metric === 'val_acc'
              ? Math.max(...v)
              : Math.min(...v);
      return { configId: rows[0]!.config_id, seed: rows[0]!.seed, value };
    });
  };
  const expectedRanking = (metric: 'val_loss' | 'val_acc' | 'train_loss', aggregate: 'final' | 'best' | 'auc') => {
    const by = new Map<string, number[]>();
    for (const t of trialValues(metric, aggregate)) by.set(t.configId, [...(by.get(t.configId) ?? []), t.value]);
    const sign = metric === 'val_acc' ? -1 : 1;
    return [...by.entries()]
      .map(([configId, v]) => ({ configId, mean: mean(v), n: v.length }))
      .sort((a, b) => sign * (a.mean - b.mean));
  };

  it.each([
    ['val_loss', 'final'],
    ['val_acc', 'best'],
    ['train_loss', 'auc'],
    ['val_loss', 'auc'],
  ] as const)('ranks by %s (%s) as the raw evaluation rows say', async (metric, aggregate) => {
    const r = await api.results(sweepId, { metric, aggregate });
    expect(r.objective).toEqual({ metric, aggregate, mode: metric === 'val_acc' ? 'max' : 'min' });
    const want = expectedRanking(metric, aggregate);
    expect(r.ranking.map((x) => x.configId)).toEqual(want.map((w) => w.configId));
    r.ranking.forEach((x, i) => {
      expect(x.mean).toBeCloseTo(want[i]!.mean, 10);
      expect(x.n).toBe(3);
      expect(x.ci95![0]).toBeLessThan(x.mean!);
    });
  });

  it('reports the test split beside the ranking, from the final evaluation rows; it never selects', async () => {
    const r = await api.results(sweepId);
    expect(r.selectedOn).toBe('validation');
    const tests = await query<{ config_id: string; test_loss: number; val_loss: number }>(
      db.url,
      `SELECT t.config_id, (e.metrics->>'test_loss')::float8 AS test_loss, e.val_loss FROM evaluations e JOIN trials t ON t.id = e.trial_id
        WHERE t.sweep_id = $1 AND e.step = t.total_steps`,
      [sweepId],
    );
    expect(tests).toHaveLength(27);
    for (const row of r.ranking) {
      const mine = tests.filter((x) => x.config_id === row.configId);
      expect(row.test.test_loss!.n).toBe(3);
      expect(row.test.test_loss!.mean).toBeCloseTo(mean(mine.map((x) => x.test_loss)), 10);
      // Validation and test are different samples: the numbers differ.
      expect(mine.every((x) => x.test_loss !== x.val_loss)).toBe(true);
    }
    // test_* is not an objective.
    const bad = await api.results(sweepId, { metric: 'test_loss' as never }).catch((e: unknown) => e);
    expect((bad as ApiRequestError).status).toBe(400);
  });

  it('answers in one request which schedule wins at its best LR, and whether it is significant', async () => {
    const s = await api.schedules(sweepId);
    const want = expectedRanking('val_loss', 'final');
    const kindOf = (configId: string) =>
      s.schedules.find((x) => x.sensitivity.some((p) => p.configId === configId))!.schedule.kind;
    expect(s.schedules).toHaveLength(3);
    expect(s.schedules[0]!.schedule.kind).toBe(kindOf(want[0]!.configId));
    expect(s.schedules[0]!.best!.configId).toBe(want[0]!.configId);
    for (const sch of s.schedules) {
      expect(sch.sensitivity.map((p) => p.baseLr)).toEqual([0.001, 0.01, 0.1]);
      const bestOfKind = want.find((w) => kindOf(w.configId) === sch.schedule.kind)!;
      expect(sch.best!.configId).toBe(bestOfKind.configId);
      expect(sch.basin!.lo).toBeLessThanOrEqual(sch.best!.baseLr);
      expect(sch.basin!.hi).toBeGreaterThanOrEqual(sch.best!.baseLr);
    }
    // The pairwise tests, recomputed from the raw rows: paired over the three shared seeds.
    const values = trialValues('val_loss', 'final');
    for (const c of s.comparisons) {
      const [ka, kb] = [c.a, c.b].map((k) => s.schedules.find((x) => x.scheduleKey === k)!.best!.configId);
      const va = values
        .filter((v) => v.configId === ka)
        .sort((x, y) => x.seed - y.seed)
        .map((v) => v.value);
      const vb = values
        .filter((v) => v.configId === kb)
        .sort((x, y) => x.seed - y.seed)
        .map((v) => v.value);
      // Written out here (t from the seed differences, p by integrating the t density).
      const p = pairedTTest(va, vb);
      expect(c.paired!.pairs).toBe(3);
      expect(c.paired!.p).toBeCloseTo(p.p, 8);
      expect(c.significant).toBe(p.p < 0.05);
    }
    expect(s.comparisons).toHaveLength(3);
    // Each sensitivity point's seed range is its seeds' min and max.
    for (const sch of s.schedules) {
      for (const p of sch.sensitivity) {
        const v = values.filter((x) => x.configId === p.configId).map((x) => x.value);
        expect(p.range).toEqual([Math.min(...v), Math.max(...v)]);
      }
    }
    expect(s.verdict).toMatch(/^Best: /);
    expect(s.verdict).toContain(s.schedules[0]!.label);
  });

  it('gives step-aligned mean and CI per configuration, and the applied LR, as the raw rows say', async () => {
    const ids = expectedRanking('val_loss', 'final')
      .slice(0, 3)
      .map((w) => w.configId);
    const c = await api.curves(sweepId, { metric: 'train_loss', configs: ids });
    expect(c.curves.map((x) => x.configId)).toEqual(ids);
    for (const curve of c.curves) {
      const raw = await query<{ step: number; n: number; mean: number; sd: number; lo: number; hi: number }>(
        db.url,
        `SELECT u.step, count(*)::int AS n, avg(u.train_loss) AS mean, stddev_samp(u.train_loss) AS sd, min(u.train_loss) AS lo, max(u.train_loss) AS hi FROM update_metrics u
           JOIN trials t ON t.id = u.trial_id WHERE t.sweep_id = $1 AND t.config_id = $2 AND t.status = 'completed' GROUP BY u.step ORDER BY u.step`,
        [sweepId, curve.configId],
      );
      expect(curve.steps).toEqual(raw.map((r) => r.step));
      expect(curve.n).toEqual(raw.map(() => 3));
      curve.mean.forEach((m, i) => expect(m).toBeCloseTo(raw[i]!.mean, 9));
      curve.ci95Hi.forEach((hi, i) =>
        expect(hi! - curve.mean[i]!).toBeCloseTo((4.302652729911275 * raw[i]!.sd) / Math.sqrt(3), 6),
      );
      // The other bands: standard error, and the seeds' min and max.
      curve.sem.forEach((sem, i) => expect(sem!).toBeCloseTo(raw[i]!.sd / Math.sqrt(3), 6));
      expect(curve.min).toEqual(raw.map((r) => r.lo));
      expect(curve.max).toEqual(raw.map((r) => r.hi));
      expect(curve.lr.mean).toEqual(
        lrSequence(curve.schedule, { baseLr: curve.baseLr, totalSteps: T }).map((x) => expect.closeTo(x, 15)),
      );
    }
    const val = (await api.curves(sweepId, { metric: 'val_acc', configs: [ids[0]!] })).curves[0]!;
    expect(val.steps).toEqual([10, 20, 30, 36]);
    const small = (await api.curves(sweepId, { metric: 'train_loss', configs: [ids[0]!], points: 10 })).curves[0]!;
    expect(small.steps.length).toBeLessThanOrEqual(10);
    expect([small.steps[0], small.steps.at(-1)]).toEqual([0, T - 1]);
    const bad = await api.curves(sweepId, { configs: ['nope'] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ApiRequestError);
    expect((bad as ApiRequestError).status).toBe(400);
  });

  it('exports results and curves as CSV', async () => {
    const res = await fetch(`${apiUrl}/v1/sweeps/${sweepId}/results?format=csv`, {
      headers: { authorization: `Bearer ${bootstrapToken}` },
    });
    expect(res.headers.get('content-type')).toContain('text/csv');
    const lines = (await res.text()).trim().split('\r\n');
    expect(lines[0]).toBe(
      'rank,configId,baseLr,schedule,values,n,seeds,diverged,mean,std,sem,ci95_lo,ci95_hi,partial,selected_on,test_acc_mean,test_loss_mean',
    );
    expect(lines).toHaveLength(10);
    expect(lines[1]!.startsWith('1,')).toBe(true);
    const curves = await fetch(`${apiUrl}/v1/sweeps/${sweepId}/curves?format=csv&metric=val_loss`, {
      headers: { authorization: `Bearer ${bootstrapToken}` },
    });
    const rows = (await curves.text()).trim().split('\r\n');
    expect(rows[0]).toBe('configId,baseLr,label,step,n,mean_val_loss,ci95_lo,ci95_hi');
    expect(rows).toHaveLength(1 + 9 * 4);
  });
});
