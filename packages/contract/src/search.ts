/**
 * How a sweep searches (`search` in the spec): `grid` (the default: every configuration), `asha`
 * (successive halving over rungs of budget, each trial judged at a rung by an annealed estimate)
 * or `range_test` (Smith 2017).
 */
import { cooldownShapes } from '@lrsweep/schedules';
import { z } from 'zod';

/**
 * The annealed estimate at a rung: from the trial's checkpoint at the rung, `fraction` of the rung's
 * budget more updates with the rate taken from where the schedule is down to zero, then one
 * evaluation. 15% by default: the middle of the 10–20% cooldowns that match a full decay in
 * Hägele et al. (2024); linear, the shape Bergsma et al. (2025) find hard to beat.
 */
export const rungCooldownSchema = z.strictObject({
  fraction: z
    .number()
    .gt(0)
    .max(0.5)
    .default(0.15)
    .meta({ description: "the estimate's cooldown, as a fraction of the rung's budget (at least one update)" }),
  shape: z.enum(cooldownShapes).default('linear'),
});

export const searchSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('grid') }),
  z.strictObject({
    kind: z.literal('asha'),
    reduction: z
      .number()
      .int()
      .min(2)
      .max(16)
      .default(3)
      .meta({ description: 'η: a rung keeps the best 1/η of the configurations that reach it' }),
    minBudget: z
      .number()
      .int()
      .positive()
      .max(10_000_000)
      .meta({ description: 'the first rung, in updates (after every schedule’s warmup)' }),
    maxBudget: z.number().int().positive().max(10_000_000).optional().meta({
      description: 'the last rung, in updates: the horizon T of the trials that reach it (default: T from epochs)',
    }),
    rungMetric: z.enum(['annealed', 'raw']).default('annealed').meta({
      description:
        "annealed: judged after a short cooldown from the rung's checkpoint; raw: the loss at the rung as it is (the naive comparison)",
    }),
    cooldown: rungCooldownSchema.default({ fraction: 0.15, shape: 'linear' }),
  }),
  z.strictObject({
    kind: z.literal('range_test'),
    minLr: z.number().positive().max(1e3),
    maxLr: z.number().positive().max(1e3),
    steps: z
      .number()
      .int()
      .min(10)
      .max(100_000)
      .default(200)
      .meta({ description: 'updates of the ramp (its horizon; epochs are not used)' }),
  }),
]);
export type SearchSpec = z.output<typeof searchSchema>;
export type AshaSearch = Extract<SearchSpec, { kind: 'asha' }>;

/**
 * The rungs of an ASHA search, in updates: `minBudget·η^k` (rounded) below `maxBudget`, then
 * `maxBudget` itself (the full horizon).
 */
export function ashaRungs(minBudget: number, maxBudget: number, reduction: number): number[] {
  const rungs: number[] = [];
  for (let b = minBudget; Math.round(b) < maxBudget; b *= reduction) {
    if (!rungs.length || Math.round(b) > rungs.at(-1)!) rungs.push(Math.round(b));
  }
  return [...rungs, maxBudget];
}
