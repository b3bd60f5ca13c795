// Every schedule kind: at least one bad value per parameter answers 400 naming its path, both in
// a sweep and in a preview; and the preview answers the curve.
import { lrSequence, scheduleExamples, type ScheduleKind } from '@lrsweep/schedules';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, createApiHarness } from './test-harness';

const ex = (k: ScheduleKind) => scheduleExamples[k].spec as Record<string, unknown>;
/** [kind, bad spec, path of the problem inside the schedule] */
const bad: [ScheduleKind, Record<string, unknown>, string][] = [
  ['constant', { ...ex('constant'), gamma: 0.5 }, 'gamma'],
  ['constant', { ...ex('constant'), warmup: { steps: -1 } }, 'warmup.steps'],
  ['constant', { ...ex('constant'), warmup: { steps: 2.5 } }, 'warmup.steps'],
  ['constant', { ...ex('constant'), warmup: { steps: 5, startFactor: 1.5 } }, 'warmup.startFactor'],
  ['constant', { ...ex('constant'), warmup: { steps: 100 } }, 'warmup.steps'],
  ['step', { ...ex('step'), stepSize: 0 }, 'stepSize'],
  ['step', { ...ex('step'), stepSize: '30' }, 'stepSize'],
  ['step', { kind: 'step' }, 'stepSize'],
  ['step', { ...ex('step'), gamma: 0 }, 'gamma'],
  ['step', { ...ex('step'), gamma: 1.5 }, 'gamma'],
  ['multistep', { ...ex('multistep'), milestones: [80, 50] }, 'milestones'],
  ['multistep', { ...ex('multistep'), milestones: [-1] }, 'milestones[0]'],
  ['multistep', { ...ex('multistep'), milestones: 50 }, 'milestones'],
  ['multistep', { ...ex('multistep'), gamma: -0.1 }, 'gamma'],
  ['exponential', { kind: 'exponential' }, 'gamma'],
  ['exponential', { kind: 'exponential', gamma: 2 }, 'gamma'],
  ['linear', { ...ex('linear'), startFactor: -0.1 }, 'startFactor'],
  ['linear', { ...ex('linear'), endFactor: 2 }, 'endFactor'],
  ['linear', { ...ex('linear'), steps: 0 }, 'steps'],
  ['polynomial', { ...ex('polynomial'), power: 0 }, 'power'],
  ['polynomial', { ...ex('polynomial'), endFactor: 1.1 }, 'endFactor'],
  ['polynomial', { ...ex('polynomial'), steps: -5 }, 'steps'],
  ['cosine', { ...ex('cosine'), minFactor: 1.5 }, 'minFactor'],
  ['cosine', { ...ex('cosine'), steps: 0 }, 'steps'],
  ['cosine', { ...ex('cosine'), minFactor: 'low' }, 'minFactor'],
  ['cosine_restarts', { ...ex('cosine_restarts'), period: 0 }, 'period'],
  ['cosine_restarts', { ...ex('cosine_restarts'), periodMult: 1.5 }, 'periodMult'],
  ['cosine_restarts', { ...ex('cosine_restarts'), periodMult: 0 }, 'periodMult'],
  ['cosine_restarts', { kind: 'cosine_restarts', cycles: -1 }, 'cycles'],
  ['cosine_restarts', { kind: 'cosine_restarts', period: 10, cycles: 2 }, 'period'],
  ['cosine_restarts', { kind: 'cosine_restarts' }, 'period'],
  ['cosine_restarts', { ...ex('cosine_restarts'), minFactor: 2 }, 'minFactor'],
  ['cyclic', { ...ex('cyclic'), minFactor: 1.2 }, 'minFactor'],
  ['cyclic', { kind: 'cyclic', stepSizeUp: 10 }, 'minFactor'],
  ['cyclic', { ...ex('cyclic'), stepSizeUp: 0 }, 'stepSizeUp'],
  ['cyclic', { ...ex('cyclic'), stepSizeDown: 0 }, 'stepSizeDown'],
  ['cyclic', { ...ex('cyclic'), mode: 'sine' }, 'mode'],
  ['cyclic', { ...ex('cyclic'), gamma: 0 }, 'gamma'],
  ['one_cycle', { ...ex('one_cycle'), pctStart: 0 }, 'pctStart'],
  ['one_cycle', { ...ex('one_cycle'), pctStart: 1 }, 'pctStart'],
  ['one_cycle', { ...ex('one_cycle'), anneal: 'cubic' }, 'anneal'],
  ['one_cycle', { ...ex('one_cycle'), divFactor: 0.5 }, 'divFactor'],
  ['one_cycle', { ...ex('one_cycle'), finalDivFactor: 0.5 }, 'finalDivFactor'],
  ['one_cycle', { ...ex('one_cycle'), threePhase: 'yes' }, 'threePhase'],
  ['one_cycle', { ...ex('one_cycle'), steps: 0 }, 'steps'],
  ['inverse_sqrt', { ...ex('inverse_sqrt'), timescale: 0 }, 'timescale'],
  ['lr_range', { kind: 'lr_range' }, 'startFactor'],
  ['lr_range', { kind: 'lr_range', startFactor: 0 }, 'startFactor'],
  ['lr_range', { kind: 'lr_range', startFactor: 2 }, 'startFactor'],
  ['lr_range', { ...ex('lr_range'), steps: 0 }, 'steps'],
  ['wsd', { ...ex('wsd'), decayFraction: 0 }, 'decayFraction'],
  ['wsd', { ...ex('wsd'), decayFraction: 1.5 }, 'decayFraction'],
  ['wsd', { kind: 'wsd', decaySteps: 0 }, 'decaySteps'],
  ['wsd', { kind: 'wsd', decaySteps: 500 }, 'decaySteps'],
  ['wsd', { kind: 'wsd' }, 'decaySteps'],
  ['wsd', { ...ex('wsd'), decayShape: 'exp' }, 'decayShape'],
  ['wsd', { ...ex('wsd'), minFactor: -1 }, 'minFactor'],
  ['reduce_on_plateau', { ...ex('reduce_on_plateau'), metric: 'loss' }, 'metric'],
  ['reduce_on_plateau', { ...ex('reduce_on_plateau'), mode: 'up' }, 'mode'],
  ['reduce_on_plateau', { ...ex('reduce_on_plateau'), factor: 1 }, 'factor'],
  ['reduce_on_plateau', { ...ex('reduce_on_plateau'), factor: 0 }, 'factor'],
  ['reduce_on_plateau', { ...ex('reduce_on_plateau'), patience: -1 }, 'patience'],
  ['reduce_on_plateau', { ...ex('reduce_on_plateau'), threshold: -1 }, 'threshold'],
  ['reduce_on_plateau', { ...ex('reduce_on_plateau'), thresholdMode: 'pct' }, 'thresholdMode'],
  ['reduce_on_plateau', { ...ex('reduce_on_plateau'), cooldown: 1.5 }, 'cooldown'],
  ['reduce_on_plateau', { ...ex('reduce_on_plateau'), minFactor: 2 }, 'minFactor'],
  ['sequential', { ...ex('sequential'), parts: [] }, 'parts'],
  ['sequential', { ...ex('sequential'), milestones: [20, 40] }, 'milestones'],
  [
    'sequential',
    { kind: 'sequential', milestones: [40, 20], parts: [{ kind: 'constant' }, { kind: 'linear' }, { kind: 'cosine' }] },
    'milestones[1]',
  ],
  ['sequential', { ...ex('sequential'), milestones: [0] }, 'milestones[0]'],
  ['sequential', { ...ex('sequential'), milestones: [100] }, 'milestones[0]'],
  [
    'sequential',
    { ...ex('sequential'), parts: [{ kind: 'linear' }, { kind: 'cosine', minFactor: 3 }] },
    'parts[1].minFactor',
  ],
  ['sequential', { ...ex('sequential'), parts: [{ kind: 'linear' }, { kind: 'nope' }] }, 'parts[1].kind'],
];

describe('invalid schedule values answer 400 naming the path', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await createApiHarness('sched');
  });
  afterAll(async () => h?.close());

  it('covers every kind', () => {
    expect(new Set(bad.map((b) => b[0]))).toEqual(new Set(Object.keys(scheduleExamples)));
  });

  const sweep = (schedule: unknown) => ({
    name: 'bad',
    dataset: { name: 'synthetic', trainSize: 1000, testSize: 100 },
    training: { epochs: 1, batchSize: 10, evalEvery: 10 },
    grid: { baseLr: [0.1], schedule: [schedule], seeds: 1 },
  });

  it.each(bad)('%s: %j → %s', async (_kind, spec, path) => {
    const s = await h.inject({ method: 'POST', url: '/v1/sweeps', payload: sweep(spec) });
    expect(s.statusCode, s.body).toBe(400);
    expect(s.json().issues.map((i: { path: string }) => i.path)).toContain(`grid.schedule[0].${path}`);
    const p = await h.inject({
      method: 'POST',
      url: '/v1/schedules/preview',
      payload: { schedule: spec, baseLr: 0.1, totalSteps: 100 },
    });
    expect(p.statusCode, p.body).toBe(400);
    expect(p.json()).toMatchObject({ code: 'SPEC_INVALID' });
    expect(p.json().issues.map((i: { path: string }) => i.path)).toContain(`schedule.${path}`);
    expect(await h.handle.prisma.sweep.count()).toBe(0);
  });

  it.each(Object.entries(scheduleExamples))('the %s example is valid in both', async (_kind, { spec }) => {
    const p = await h.inject({
      method: 'POST',
      url: '/v1/schedules/preview',
      payload: { schedule: spec, baseLr: 0.1, totalSteps: 100 },
    });
    expect(p.statusCode, p.body).toBe(200);
    expect(p.json().lr).toEqual(lrSequence(spec, { baseLr: 0.1, totalSteps: 100, metrics: undefined, evalEvery: 1 }));
  });
});

describe('POST /v1/schedules/preview', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await createApiHarness('preview');
  });
  afterAll(async () => h?.close());
  const preview = (payload: object) => h.inject({ method: 'POST', url: '/v1/schedules/preview', payload });

  it('answers the whole curve when it is short', async () => {
    const r = (
      await preview({ schedule: { kind: 'cosine', warmup: { steps: 5 } }, baseLr: 0.1, totalSteps: 50 })
    ).json();
    expect(r.downsampled).toBe(false);
    expect(r.steps).toEqual([...Array(50).keys()]);
    expect(r.lr).toEqual(lrSequence({ kind: 'cosine', warmup: { steps: 5 } }, { baseLr: 0.1, totalSteps: 50 }));
  });

  it('downsamples a long curve to at most 2 000 points, keeping exact values and both ends', async () => {
    const schedule = { kind: 'cyclic', minFactor: 0.1, stepSizeUp: 500, mode: 'triangular2' };
    const full = lrSequence(schedule as never, { baseLr: 0.3, totalSteps: 100_000 });
    const r = (await preview({ schedule, baseLr: 0.3, totalSteps: 100_000 })).json();
    expect(r.downsampled).toBe(true);
    expect(r.steps.length).toBeLessThanOrEqual(2000);
    expect(r.steps.length).toBeGreaterThan(1000);
    expect(r.steps[0]).toBe(0);
    expect(r.steps.at(-1)).toBe(99_999);
    r.steps.forEach((t: number, i: number) => expect(r.lr[i]).toBe(full[t]));
    // The peaks survive: the highest point of the curve is kept.
    expect(Math.max(...r.lr)).toBe(Math.max(...full));
  });

  it('feeds evaluation metrics to a plateau schedule', async () => {
    const metrics = [1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9];
    const r = (
      await preview({
        schedule: { kind: 'reduce_on_plateau', factor: 0.5, patience: 1 },
        baseLr: 0.1,
        totalSteps: 100,
        metrics,
      })
    ).json();
    expect(r.lr).toEqual(
      lrSequence(
        { kind: 'reduce_on_plateau', factor: 0.5, patience: 1 },
        { baseLr: 0.1, totalSteps: 100, metrics, evalEvery: 10 },
      ),
    );
    expect(r.lr[0]).toBe(0.1);
    expect(r.lr[99]).toBeLessThan(0.1);
  });

  it('refuses a horizon that is not a positive integer', async () => {
    const r = await preview({ schedule: { kind: 'constant' }, baseLr: 0.1, totalSteps: 0 });
    expect(r.statusCode).toBe(400);
    expect(r.json().issues[0].path).toBe('totalSteps');
  });
});
