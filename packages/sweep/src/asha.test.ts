import { ashaRungs } from '@lrsweep/contract';
import { describe, expect, it } from 'vitest';
import { type AshaTrial, ashaBudget, ashaDecide } from './asha';

/** A rung's value of a configuration's seed: fixed per (config, seed, rung), so any order sees the same ones. */
const rungValue = (c: number, seed: number, k: number) =>
  ((c * 7919 + k * 104729) % 97) / 10 + seed * 0.01 + (k === 1 && c === 4 ? -50 : 0);

/** Successive halving computed directly: the configurations that reach the horizon. */
function synchronous(configs: number, seeds: number, rungs: number, reduction: number): number[] {
  let alive = [...Array(configs).keys()];
  for (let k = 0; k < rungs; k++) {
    const mean = (c: number) => [...Array(seeds).keys()].reduce((a, s) => a + rungValue(c, s, k), 0) / seeds;
    alive = alive
      .sort((a, b) => mean(a) - mean(b) || (`c${a}` < `c${b}` ? -1 : 1))
      .slice(0, Math.max(1, Math.floor(alive.length / reduction)));
  }
  return alive.sort((a, b) => a - b);
}

/** Runs an ASHA search event by event: a random running trial reaches its next rung; decisions follow. */
function simulate(configs: number, seeds: number, rungs: number, reduction: number, order: number) {
  let r = order;
  const rand = () => (r = (r * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const trials: AshaTrial[] = [];
  for (let c = 0; c < configs; c++)
    for (let s = 0; s < seeds; s++)
      trials.push({ id: `${c}/${s}`, config: `c${c}`, status: 'running', waiting: false, values: [] });
  let reports = 0;
  let decisionsBeforeFull = 0;
  for (let guard = 0; guard < 10_000; guard++) {
    const moving = trials.filter((t) => t.status === 'running' && !t.waiting);
    if (!moving.length) break;
    const t = moving[Math.floor(rand() * moving.length)]!;
    const [c, s] = t.id.split('/').map(Number) as [number, number];
    if (t.values.length === rungs) t.status = 'completed';
    else {
      t.values.push(rungValue(c, s, t.values.length));
      t.waiting = true;
      reports += 1;
    }
    const d = ashaDecide(trials, { reduction, rungs, mode: 'min' });
    for (const id of d.promote) trials.find((x) => x.id === id)!.waiting = false;
    for (const p of d.prune) trials.find((x) => x.id === p.id)!.status = 'pruned';
    if (d.promote.length && trials.some((x) => x.status === 'running' && x.values.length === 0))
      decisionsBeforeFull += 1;
  }
  return { trials, reports, decisionsBeforeFull };
}

describe('ASHA rung decisions', () => {
  it('lays rungs out from minBudget by η up to the horizon', () => {
    expect(ashaRungs(20, 540, 3)).toEqual([20, 60, 180, 540]);
    expect(ashaRungs(100, 400, 3)).toEqual([100, 300, 400]);
    expect(ashaRungs(2, 5, 2)).toEqual([2, 4, 5]);
  });

  it('reaches successive halving’s answer in any arrival order, leaving nothing live or undecided', () => {
    for (const [configs, seeds, reduction] of [
      [9, 2, 3],
      [12, 1, 3],
      [10, 3, 2],
      [4, 2, 4],
    ] as const) {
      const rungs = 2;
      const expected = synchronous(configs, seeds, rungs, reduction);
      for (let order = 1; order <= 12; order++) {
        const { trials } = simulate(configs, seeds, rungs, reduction, order);
        const completed = [
          ...new Set(trials.filter((t) => t.status === 'completed').map((t) => Number(t.config.slice(1)))),
        ].sort((a, b) => a - b);
        expect(completed, `${configs} configs, η ${reduction}, order ${order}`).toEqual(expected);
        expect(trials.every((t) => t.status === 'completed' || t.status === 'pruned')).toBe(true);
        // Seeds share their configuration's fate.
        for (let c = 0; c < configs; c++)
          expect(new Set(trials.filter((t) => t.config === `c${c}`).map((t) => t.status)).size).toBe(1);
      }
    }
  });

  it('promotes before a rung has filled once the outcome is certain', () => {
    const runs = [1, 2, 3, 4, 5].map((o) => simulate(27, 1, 2, 3, o).decisionsBeforeFull);
    expect(Math.max(...runs)).toBeGreaterThan(0);
  });

  it('judges a configuration on its seed mean, and prunes one whose seed diverged', () => {
    const t = (id: string, config: string, values: number[], status: AshaTrial['status'] = 'queued'): AshaTrial => ({
      id,
      config,
      status,
      waiting: status === 'queued',
      values,
    });
    // a: seeds 1 and 5 (mean 3); b: 2 and 2 (mean 2); c: diverged seed; η 3 keeps one of three.
    const d = ashaDecide(
      [
        t('a0', 'a', [1]),
        t('a1', 'a', [5]),
        t('b0', 'b', [2]),
        t('b1', 'b', [2]),
        t('c0', 'c', [], 'diverged'),
        t('c1', 'c', [0.5]),
      ],
      { reduction: 3, rungs: 1, mode: 'min' },
    );
    expect(d.promote.sort()).toEqual(['b0', 'b1']);
    expect(d.prune.map((p) => p.id).sort()).toEqual(['a0', 'a1', 'c1']);
    // With mode max the larger mean wins.
    const m = ashaDecide([t('a0', 'a', [1]), t('a1', 'a', [5]), t('b0', 'b', [2]), t('b1', 'b', [2])], {
      reduction: 2,
      rungs: 1,
      mode: 'max',
    });
    expect(m.promote.sort()).toEqual(['a0', 'a1']);
  });

  it('waits while the outcome could still change', () => {
    const d = ashaDecide(
      [
        { id: 'a', config: 'a', status: 'queued', waiting: true, values: [1] },
        { id: 'b', config: 'b', status: 'running', waiting: false, values: [] },
        { id: 'c', config: 'c', status: 'running', waiting: false, values: [] },
      ],
      { reduction: 3, rungs: 1, mode: 'min' },
    );
    expect(d).toEqual({ promote: [], prune: [] });
  });

  it('budgets a search: 9 configurations, η 3, rungs 20/60/180 cost about a third of the grid', () => {
    const grid = 9 * 2 * 180;
    const raw = ashaBudget(9, 2, [20, 60, 180], 3, 0.15, 'raw');
    expect(raw).toBe(2 * (9 * 20 + 3 * 40 + 1 * 120));
    expect(ashaBudget(9, 2, [20, 60, 180], 3, 0.15, 'annealed')).toBe(raw + 2 * (9 * 3 + 3 * 9));
    expect(raw / grid).toBeLessThan(0.4);
  });
});
