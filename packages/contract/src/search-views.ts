/** What searches other than a plain grid add to the API's answers: fork plans, ASHA plans and pruned configurations. */
import { scheduleSchema } from '@lrsweep/schedules';
import { z } from 'zod';

/** A configuration as answers show it. */
export const configView = z.object({
  baseLr: z.number(),
  schedule: scheduleSchema,
  values: z.record(z.string(), z.unknown()).optional(),
  /** Its horizon T in updates, when the sweep has a horizon axis. */
  horizon: z.number().int().optional(),
});

/** Forked cooldowns on a horizon axis: what they save (absent when nothing forks). */
export const forkPlanSchema = z
  .object({
    trunks: z
      .number()
      .int()
      .meta({ description: 'trials that carry forks: the longest horizon of a schedule, base LR and seed' }),
    forks: z
      .number()
      .int()
      .meta({ description: "trials that start from their trunk's checkpoint at their decay start" }),
    updates: z.number().int().meta({ description: 'updates the sweep trains, with forks' }),
    independentUpdates: z.number().int().meta({ description: 'updates without forks (Σ of the horizons)' }),
  })
  .meta({ id: 'ForkPlan' });

/** An ASHA search's plan: its rungs and the updates it trains at most, against the full grid's. */
export const ashaPlanSchema = z
  .object({
    rungs: z.array(z.number().int()).meta({ description: 'budgets in updates; the last is the horizon' }),
    reduction: z.number().int(),
    updates: z.number().int().meta({ description: 'updates at most, the estimates’ cooldowns included' }),
    gridUpdates: z.number().int().meta({ description: 'updates of the full grid' }),
  })
  .meta({ id: 'AshaPlan' });

/** A configuration an ASHA search stopped at a rung. */
export const prunedRowSchema = z.object({
  configId: z.string(),
  config: configView,
  scheduleKey: z.string(),
  /** The rung it stopped at (0 the first) and that rung's budget in updates. */
  rung: z.number().int(),
  budget: z.number().int().nullable(),
  seeds: z.number().int(),
  /** Its seeds' mean estimate at that rung (null when one diverged). */
  estimate: z.number().nullable(),
});
