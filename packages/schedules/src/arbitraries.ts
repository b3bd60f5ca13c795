// fast-check generators of valid schedule specs, for the property tests.
import fc from 'fast-check';
import type { ScheduleInput } from './schema';

const factor = fc.double({ min: 0, max: 1, noNaN: true });
const gamma = fc.double({ min: 1e-3, max: 1, noNaN: true });
const len = (max: number) => fc.integer({ min: 1, max });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
export const warmupArb = fc.record({ steps: fc.integer({ min: 0, max: 60 }), startFactor: factor });

const increasing = (maxLen: number, maxValue: number) =>
  fc.uniqueArray(fc.integer({ min: 1, max: maxValue }), { maxLength: maxLen }).map((a) => a.sort((x, y) => x - y));

/** Leaf kinds (everything but `sequential`), without warmup. */
export const leafArb: fc.Arbitrary<ScheduleInput> = fc.oneof(
  fc.record({ kind: fc.constant('constant' as const) }),
  fc.record({ kind: fc.constant('step' as const), stepSize: len(200), gamma }),
  fc.record({
    kind: fc.constant('multistep' as const),
    milestones: fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 6 }).map((a) => a.sort((x, y) => x - y)),
    gamma,
  }),
  fc.record({ kind: fc.constant('exponential' as const), gamma }),
  fc.record(
    { kind: fc.constant('linear' as const), startFactor: factor, endFactor: factor, steps: opt(len(3000)) },
    { requiredKeys: ['kind'] },
  ),
  fc.record(
    {
      kind: fc.constant('polynomial' as const),
      power: fc.double({ min: 0.1, max: 5, noNaN: true }),
      endFactor: factor,
      steps: opt(len(3000)),
    },
    { requiredKeys: ['kind'] },
  ),
  fc.record(
    { kind: fc.constant('cosine' as const), minFactor: factor, steps: opt(len(3000)) },
    { requiredKeys: ['kind'] },
  ),
  fc.record({
    kind: fc.constant('cosine_restarts' as const),
    period: len(300),
    periodMult: fc.integer({ min: 1, max: 3 }),
    minFactor: factor,
  }),
  fc.record({
    kind: fc.constant('cosine_restarts' as const),
    cycles: fc.double({ min: 0.5, max: 10, noNaN: true }),
    minFactor: factor,
  }),
  fc.record({
    kind: fc.constant('cyclic' as const),
    minFactor: factor,
    stepSizeUp: len(200),
    stepSizeDown: opt(len(200)),
    mode: fc.constantFrom('triangular' as const, 'triangular2' as const, 'exp_range' as const),
    gamma,
  }),
  fc.record({
    kind: fc.constant('one_cycle' as const),
    pctStart: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
    anneal: fc.constantFrom('cos' as const, 'linear' as const),
    divFactor: fc.double({ min: 1, max: 1e4, noNaN: true }),
    finalDivFactor: fc.double({ min: 1, max: 1e5, noNaN: true }),
    threePhase: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('inverse_sqrt' as const), timescale: opt(len(20_000)) }, { requiredKeys: ['kind'] }),
  fc.record({
    kind: fc.constant('wsd' as const),
    decayFraction: fc.double({ min: 0.05, max: 1, noNaN: true }),
    decayShape: fc.constantFrom('cosine' as const, 'linear' as const, '1-sqrt' as const),
    minFactor: factor,
  }),
  fc.record({
    kind: fc.constant('reduce_on_plateau' as const),
    mode: fc.constantFrom('min' as const, 'max' as const),
    factor: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
    patience: fc.integer({ min: 0, max: 5 }),
    threshold: fc.double({ min: 0, max: 0.1, noNaN: true }),
    thresholdMode: fc.constantFrom('rel' as const, 'abs' as const),
    cooldown: fc.integer({ min: 0, max: 3 }),
    minFactor: factor,
  }),
);

const withWarmup = (a: fc.Arbitrary<ScheduleInput>) =>
  fc.tuple(a, opt(warmupArb)).map(([s, w]) => (w ? ({ ...s, warmup: w } as ScheduleInput) : s));

/** Any valid spec, `sequential` of up to three (warmed-up) leaves included. */
export const scheduleArb: fc.Arbitrary<ScheduleInput> = fc.oneof(
  { weight: 4, arbitrary: withWarmup(leafArb) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.array(withWarmup(leafArb), { minLength: 1, maxLength: 3 }), increasing(2, 2000))
      .map(([parts, ms]) => {
        const milestones = ms.slice(0, parts.length - 1);
        return { kind: 'sequential', parts: parts.slice(0, milestones.length + 1), milestones } as ScheduleInput;
      }),
  },
);
