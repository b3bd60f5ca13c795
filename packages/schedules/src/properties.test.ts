import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leafArb, scheduleArb, warmupArb } from './arbitraries';
import {
  createSchedule,
  horizonIssues,
  lrSequence,
  parseScheduleFor,
  previewSequence,
  type ScheduleInput,
} from './index';

const baseLrArb = fc.double({ min: 1e-6, max: 10, noNaN: true });
const horizonArb = fc.integer({ min: 1, max: 3000 });
const runs = { numRuns: 300 };

/** The spec is valid for horizon T (checked the way a sweep checks it). */
const fits = (s: ScheduleInput, T: number) => {
  const r = parseScheduleFor(s, { horizon: T });
  return r.ok && horizonIssues(r.spec, T).length === 0;
};
const metricsFor = (seed: number, n: number) =>
  Array.from({ length: n }, (_, i) => Math.abs(Math.sin(seed + i)) + 1 / (i + 1));

describe('schedule properties (random valid specs)', () => {
  it('every rate is finite, ≥ 0 and ≤ baseLr', () => {
    fc.assert(
      fc.property(scheduleArb, baseLrArb, horizonArb, fc.integer({ min: 1, max: 50 }), (s, eta, T, every) => {
        fc.pre(fits(s, T));
        const lrs = lrSequence(s, { baseLr: eta, totalSteps: T, metrics: metricsFor(every, T), evalEvery: every });
        expect(lrs).toHaveLength(T);
        const bad = lrs.findIndex((lr) => !(Number.isFinite(lr) && lr >= 0 && lr <= eta));
        expect(bad, `step ${bad}: ${lrs[bad]}`).toBe(-1);
      }),
      runs,
    );
  });

  it('a warmup is non-decreasing and reaches the schedule', () => {
    fc.assert(
      fc.property(leafArb, warmupArb, baseLrArb, horizonArb, (s, w, eta, T) => {
        fc.pre(w.steps > 0 && fits({ ...s, warmup: w } as ScheduleInput, T));
        const lrs = lrSequence({ ...s, warmup: w } as ScheduleInput, { baseLr: eta, totalSteps: T });
        const drop = lrs.findIndex((lr, t) => t > 0 && t < w.steps && lr < lrs[t - 1]!);
        expect(drop).toBe(-1);
        expect(lrs[0]).toBeCloseTo(eta * w.startFactor, 12);
      }),
      runs,
    );
  });

  it('cosine stays within [lo, η] and ends at lo', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), baseLrArb, horizonArb, (m, eta, T) => {
        const lrs = lrSequence({ kind: 'cosine', minFactor: m }, { baseLr: eta, totalSteps: T + 1 });
        const lo = eta * m;
        expect(lrs.findIndex((lr) => lr < lo * (1 - 1e-15) || lr > eta)).toBe(-1);
        // lo + (η − lo)·1 can land an ulp away from η in float64 (found by this property).
        expect(Math.abs(lrs[0]! - eta)).toBeLessThanOrEqual(eta * 1e-15);
        const past = lrSequence({ kind: 'cosine', minFactor: m, steps: T }, { baseLr: eta, totalSteps: T + 5 });
        expect(past.slice(T)).toEqual([lo, lo, lo, lo, lo]);
      }),
      runs,
    );
  });

  it('lrSequence and createSchedule().lrAt agree, evaluations included', () => {
    fc.assert(
      fc.property(scheduleArb, baseLrArb, horizonArb, fc.integer({ min: 1, max: 40 }), (s, eta, T, every) => {
        fc.pre(fits(s, T));
        const metrics = metricsFor(T, T);
        const seq = lrSequence(s, { baseLr: eta, totalSteps: T, metrics, evalEvery: every });
        const sched = createSchedule(s, { baseLr: eta, totalSteps: T });
        let next = 0;
        const got: number[] = [];
        for (let t = 0; t < T; t++) {
          got.push(sched.lrAt(t));
          if ((t + 1) % every === 0 || t + 1 === T) sched.observe(metrics[next++]!, t + 1);
        }
        expect(got).toEqual(seq);
      }),
      runs,
    );
  });

  it('warmup {steps: 0} is the same schedule as no warmup', () => {
    fc.assert(
      fc.property(leafArb, fc.double({ min: 0, max: 1, noNaN: true }), baseLrArb, horizonArb, (s, sf, eta, T) => {
        fc.pre(fits(s, T));
        const a = lrSequence(s, { baseLr: eta, totalSteps: T });
        const b = lrSequence({ ...s, warmup: { steps: 0, startFactor: sf } } as ScheduleInput, {
          baseLr: eta,
          totalSteps: T,
        });
        expect(b).toEqual(a);
      }),
      runs,
    );
  });

  it('a plateau schedule only ever lowers its rate, never below lo', () => {
    fc.assert(
      fc.property(
        leafArb,
        fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: 1, maxLength: 60 }),
        baseLrArb,
        (s, metrics, eta) => {
          fc.pre(s.kind === 'reduce_on_plateau');
          const lrs = lrSequence(s, { baseLr: eta, totalSteps: 10, metrics });
          expect(lrs).toHaveLength(metrics.length);
          const lo = eta * ((s as { minFactor?: number }).minFactor ?? 0);
          lrs.forEach((lr, i) => {
            expect(lr).toBeLessThanOrEqual(i === 0 ? eta : lrs[i - 1]!);
            expect(lr).toBeGreaterThanOrEqual(lo);
          });
        },
      ),
      runs,
    );
  });
});

describe('previewSequence', () => {
  it('gives lrSequence at every step of a short horizon, and at the sampled steps of a long one', () => {
    const spec = { kind: 'reduce_on_plateau', factor: 0.5, patience: 1, warmup: { steps: 7 } } as const;
    const metrics = Array.from({ length: 40 }, (_, i) => 1 + Math.sin(i) * 0.01);
    const full = lrSequence(spec, { baseLr: 0.1, totalSteps: 400, metrics, evalEvery: 10 });
    expect(previewSequence(spec, { baseLr: 0.1, totalSteps: 400, metrics, evalEvery: 10, maxSteps: 1000 })).toEqual({
      steps: [...full.keys()],
      lr: full,
    });
    const sampled = previewSequence(spec, { baseLr: 0.1, totalSteps: 400, metrics, evalEvery: 10, maxSteps: 37 });
    expect(sampled.steps).toHaveLength(37);
    expect([sampled.steps[0], sampled.steps.at(-1)]).toEqual([0, 399]);
    expect(sampled.lr).toEqual(sampled.steps.map((t) => full[t]));
  });
});
