// The LR range test (schedule-aware search issue): on MNIST with the MLP and Adam, one exponential
// ramp per seed (Smith 2017) ends `completed` where its loss diverges, and the base-LR range it
// suggests brackets the best base LR the full grid (run here too) finds. The CLI takes the
// suggestion into a grid in one step (`--lr-from`).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RangeTestView } from '@lrsweep/contract';
import { query, type Stack, startStack } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../apps/cli/src/commands';

const data = { name: 'mnist', trainSize: 2200, validationSize: 200, testSize: 300 };
const common = { dataset: data, model: { kind: 'mlp', hidden: [64] }, optimizer: { kind: 'adam' } };

describe('LR range test', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('rangetest', { workers: 1, env: { WORKER_SLOTS: '2' } });
  }, 60_000);
  afterAll(async () => stack?.stop());

  it('refuses what a range test cannot be, naming the field', async () => {
    const rt = { name: 'bad', ...common, search: { kind: 'range_test', minLr: 1e-5, maxLr: 1 }, grid: { seeds: 1 } };
    const cases: [unknown, string][] = [
      [{ ...rt, grid: { baseLr: [0.01], seeds: 1 } }, 'grid.baseLr'],
      [{ ...rt, grid: { schedule: [{ kind: 'constant' }], seeds: 1 } }, 'grid.schedule'],
      [{ ...rt, search: { kind: 'range_test', minLr: 1, maxLr: 0.1 } }, 'search.maxLr'],
      [{ ...rt, search: { kind: 'range_test', minLr: 1e-5, maxLr: 1, steps: 5 } }, 'search.steps'],
      // An external trainer's range test takes its horizon from search.steps alone.
      [{ ...rt, runner: { kind: 'external', pool: 'gpu' }, training: { totalSteps: 100 } }, 'training.totalSteps'],
      [{ name: 'no-lrs', ...common, grid: { schedule: [{ kind: 'constant' }], seeds: 1 } }, 'grid.baseLr'],
    ];
    for (const [body, field] of cases) {
      const r = await stack.client.post('/v1/sweeps', body);
      expect(r.status, field).toBe(400);
      expect((r.body as { issues: { path: string }[] }).issues.map((i) => i.path)).toContain(field);
    }
    // Without training.totalSteps it is a sweep: one trial a seed, the ramp as its horizon.
    const external = await stack.client.post('/v1/sweeps', {
      name: 'external-range',
      runner: { kind: 'external', pool: 'gpu' },
      training: { evalEvery: 50 },
      grid: { seeds: 2 },
      search: { kind: 'range_test', minLr: 1e-5, maxLr: 1, steps: 300 },
    });
    expect(external.status, JSON.stringify(external.body)).toBe(201);
    const { trials } = (await stack.client.get(`/v1/sweeps/${external.body.id}/trials`)).body;
    expect(
      trials.map((t: { totalSteps: number; config: { schedule: unknown } }) => [t.totalSteps, t.config.schedule]),
    ).toEqual(Array(2).fill([300, { kind: 'lr_range', startFactor: 1e-5 }]));
    await stack.client.delete(`/v1/sweeps/${external.body.id}`);
  });

  it('suggests a base-LR range that brackets the full grid’s best, on MNIST with the MLP and Adam', async () => {
    const ramp = await stack.lrsweep.submitSweep({
      name: 'range-test',
      ...common,
      search: { kind: 'range_test', minLr: 1e-5, maxLr: 1, steps: 200 },
      training: { batchSize: 32, evalEvery: 100 },
      grid: { seeds: 2 },
    } as never);
    expect(ramp.trialCount).toBe(2);
    expect(ramp.totalSteps).toBe(200);
    const grid = await stack.lrsweep.submitSweep({
      name: 'full-grid',
      ...common,
      training: { epochs: 2, batchSize: 32, evalEvery: 63 },
      grid: { baseLr: [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1], schedule: [{ kind: 'constant' }], seeds: 2 },
    } as never);
    await stack.lrsweep.follow(ramp.id, () => {}, 300);
    await stack.lrsweep.follow(grid.id, () => {}, 300);

    // The ramp's trials end completed, at divergence: Adam does not survive an LR of 1.
    const trials = await query<{ status: string; diverged_at_step: number | null; rows: number }>(
      stack.db.url,
      'SELECT t.status::text AS status, t.diverged_at_step, (SELECT count(*)::int FROM update_metrics u WHERE u.trial_id = t.id) AS rows FROM trials t WHERE t.sweep_id = $1',
      [ramp.id],
    );
    expect(trials.every((t) => t.status === 'completed')).toBe(true);
    expect(trials.some((t) => t.diverged_at_step !== null && t.rows < 200)).toBe(true);

    const r = (await stack.client.get(`/v1/sweeps/${ramp.id}/range-test`)).body as RangeTestView;
    expect(r.provisional).toBe(false);
    expect(r.seeds).toBe(2);
    expect(r.divergedAtLr).not.toBeNull();
    // The curve is loss against the rate actually applied: rising LRs.
    expect(r.points.length).toBeGreaterThan(20);
    expect(r.points.every((p, i) => i === 0 || p.lr > r.points[i - 1]!.lr)).toBe(true);
    expect(r.points[0]!.lr).toBeCloseTo(1e-5, 12);
    const { baseLr } = r.suggested;
    expect(baseLr.length).toBeGreaterThanOrEqual(3);
    expect(r.minLossLr!).toBeLessThan(r.divergedAtLr!);

    const ranking = await stack.lrsweep.results(grid.id);
    const best = ranking.ranking[0]!.config.baseLr;
    // The acceptance: the suggestion brackets the grid's winner.
    expect(Math.min(...baseLr), JSON.stringify({ baseLr, best })).toBeLessThanOrEqual(best);
    expect(Math.max(...baseLr), JSON.stringify({ baseLr, best })).toBeGreaterThanOrEqual(best);

    // A grid sweep has no range-test answer; a range test cannot be extended.
    expect((await stack.client.get(`/v1/sweeps/${grid.id}/range-test`)).status).toBe(409);
    expect((await stack.client.post(`/v1/sweeps/${ramp.id}/extend`, { seeds: 3 })).status).toBe(409);

    // The CLI: the answer for people, and the suggestion into a new grid in one step.
    const out: string[] = [];
    const io = {
      out: (s: string) => out.push(s),
      err: (s: string) => out.push(s),
      env: { LRSWEEP_API_URL: stack.api.url, LRSWEEP_TOKEN: stack.env.LRSWEEP_BOOTSTRAP_TOKEN },
    };
    expect(await run(['range-test', ramp.id.slice(0, 8)], io as never)).toBe(0);
    expect(out.join('\n')).toContain(`suggested grid.baseLr: [${baseLr.join(', ')}]`);
    const dir = mkdtempSync(join(tmpdir(), 'lrsweep-rt-'));
    const file = join(dir, 'next.json');
    writeFileSync(
      file,
      JSON.stringify({ name: 'from-range-test', ...common, grid: { schedule: [{ kind: 'cosine' }], seeds: 2 } }),
    );
    out.length = 0;
    expect(await run(['submit', file, '--lr-from', ramp.id, '--dry-run'], io as never), out.join('\n')).toBe(0);
    expect(out.join('\n')).toContain(`grid.baseLr from range test ${ramp.id}: [${baseLr.join(', ')}]`);
    // The suggested LRs × 1 schedule × 2 seeds.
    expect(out.join('\n')).toContain(`${baseLr.length * 2} trials = ${baseLr.length} configurations × 2 seeds`);
  }, 240_000);
});
