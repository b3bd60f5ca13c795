// What GET /v1/sweeps/:id/transfer answers (#28): see transfer.ts for the spec's block.
import { z } from 'zod';
import { objectiveView } from './results-api';

const interval = z.tuple([z.number(), z.number()]);

export const transferOptimum = z.object({
  schedule: z.string().describe('the schedule, described'),
  scheduleKey: z.string(),
  /** The marked axes' values of this group (width in its own units, steps for the length axis). */
  width: z.number().nullable(),
  steps: z.number().nullable(),
  /** η*: the parabola's vertex in log LR around the best grid point, or that point when the fit cannot say. */
  lr: z.number(),
  gridBest: z.number(),
  /** The objective's mean over seeds at the best grid point. */
  value: z.number().nullable(),
  interval,
  censored: z.boolean(),
  flags: z.array(z.enum(['edge', 'not_minimum', 'censored', 'too_few_points'])),
  seeds: z.number().int(),
});

export const transferLawView = z.object({
  schedule: z.string(),
  scheduleKey: z.string(),
  axis: z.enum(['width', 'length']),
  /** The other marked axis' value this law holds at (null: only one axis is marked). */
  at: z.number().nullable(),
  a: z.number(),
  b: z.number(),
  bInterval: interval,
  points: z.array(z.object({ scale: z.number(), lr: z.number() })),
  target: z.object({ scale: z.number(), lr: z.number(), interval }).nullable(),
  warnings: z.array(z.string()),
});

export const transferRankingView = z.object({
  axis: z.enum(['width', 'length']),
  scale: z.number(),
  at: z.number().nullable(),
  /** Best first: each schedule at its own best grid LR. */
  order: z.array(z.object({ schedule: z.string(), scheduleKey: z.string(), lr: z.number(), value: z.number() })),
});

export const transferAnswer = z
  .object({
    objective: objectiveView,
    width: z.object({ from: z.string(), baseWidth: z.number(), target: z.number().nullable() }).nullable(),
    length: z.object({ from: z.literal('grid.horizon'), target: z.number().nullable() }).nullable(),
    parametrization: z.enum(['standard', 'mup']),
    /** Trials not finished yet: the answer is over the finished ones (a seed counts where it finished at every LR). */
    pending: z.number().int(),
    optima: z.array(transferOptimum),
    laws: z.array(transferLawView),
    rankings: z.array(transferRankingView),
    /** Kendall τ between the smallest and the largest scale's rankings (≥ 3 schedules), with a per-seed bootstrap interval. */
    tau: z
      .object({
        axis: z.enum(['width', 'length']),
        from: z.number(),
        to: z.number(),
        tau: z.number().nullable(),
        interval: interval.nullable(),
      })
      .nullable(),
    /** Whether the winning schedule changes with scale, said plainly. */
    winner: z.object({ flips: z.boolean(), statement: z.string() }).nullable(),
    warnings: z.array(z.string()),
  })
  .meta({ id: 'Transfer' });
export type TransferAnswer = z.output<typeof transferAnswer>;
