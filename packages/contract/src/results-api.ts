/**
 * The API's answers about results: metric pages, the ranking, the schedules comparison and the
 * aggregated curves (re-exported by api.ts).
 */
import { z } from 'zod';
import { scheduleSchema } from '@lrsweep/schedules';
import { aggregateSchema, metricNameSchema, selectionMetricSchema } from './metrics';
import { configView, prunedRowSchema } from './search-views';
import { ci, nullableNum, num, selectedOn } from './api-shared';

/** Update rows a metrics page holds by default, and at most. */
export const metricsPage = { defaultLimit: 10_000, maxLimit: 100_000 } as const;

export const metricsQuerySchema = z.strictObject({
  from: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
  to: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(metricsPage.maxLimit)
    .default(metricsPage.defaultLimit)
    .describe(
      `update rows per page (default ${metricsPage.defaultLimit}, at most ${metricsPage.maxLimit}); follow nextFrom for the rest`,
    ),
});

export const evalRowSchema = z.object({
  step: z.number().int(),
  valLoss: nullableNum,
  valAcc: nullableNum,
  /** Any other metric of the evaluation (test_* at the last one). */
  metrics: z.record(z.string(), nullableNum).optional(),
});

export const metricsSchema = z
  .object({
    updates: z.array(z.object({ step: z.number().int(), lr: num, trainLoss: nullableNum })),
    evals: z.array(evalRowSchema),
    /** Where the next page starts (`from`), or null when this page is the last. */
    nextFrom: z.number().int().nullable(),
  })
  .meta({ id: 'TrialMetrics' });

const testSummary = z.object({ n: z.number().int(), mean: nullableNum, ci95: ci });

export const rankingRowSchema = z.object({
  rank: z.number().int(),
  configId: z.string(),
  config: configView,
  n: z.number().int(),
  diverged: z.number().int(),
  seeds: z.number().int(),
  mean: nullableNum,
  std: nullableNum,
  sem: nullableNum,
  ci95: ci,
  range: ci.meta({ description: "[min, max] of the counted seeds' objectives" }),
  partial: z.boolean(),
  scheduleKey: z.string(),
  /** The test split's metrics of the same seeds, beside the ranking: they never select. */
  test: z.record(z.string(), testSummary),
});

export const objectiveView = z.object({
  metric: selectionMetricSchema,
  mode: z.enum(['min', 'max']),
  aggregate: aggregateSchema,
});
export const resultQuery = z.strictObject({
  metric: selectionMetricSchema.optional().describe('the sweep objective’s metric unless given (test_* never ranks)'),
  aggregate: aggregateSchema
    .optional()
    .describe('final evaluation, best evaluation, or the mean over evaluations (auc)'),
  rankBy: z.enum(['mean', 'ci']).optional().describe('mean, or the pessimistic end of the 95% CI'),
  format: z.enum(['json', 'csv']).default('json'),
});

export const resultsAnswer = z
  .object({
    objective: objectiveView,
    rankBy: z.enum(['mean', 'ci']),
    provisional: z.boolean(),
    selectedOn,
    ranking: z.array(rankingRowSchema),
    /** An ASHA search's configurations stopped at a rung: apart from the ranking, which has those that reached the horizon. */
    pruned: z.array(prunedRowSchema).optional(),
  })
  .meta({ id: 'Results' });

const testResult = z
  .object({
    t: z.number(),
    df: z.number(),
    p: z.number(),
    meanDiff: z.number(),
    diffCi95: z.tuple([z.number(), z.number()]),
  })
  .nullable();

export const schedulesAnswer = z
  .object({
    objective: objectiveView,
    provisional: z.boolean(),
    selectedOn,
    winner: z.string().nullable(),
    verdict: z.string(),
    alpha: z.number(),
    tolerance: z.number(),
    schedules: z.array(
      z.object({
        scheduleKey: z.string(),
        horizon: z.number().int().optional(),
        label: z.string(),
        schedule: scheduleSchema,
        best: z
          .object({ configId: z.string(), baseLr: z.number(), mean: z.number(), ci95: ci, n: z.number().int() })
          .nullable(),
        sensitivity: z.array(
          z.object({
            configId: z.string(),
            baseLr: z.number(),
            n: z.number().int(),
            mean: nullableNum,
            ci95: ci,
            sem: nullableNum,
            range: ci,
            diverged: z.number().int(),
            partial: z.boolean(),
          }),
        ),
        basin: z
          .object({ lo: z.number(), hi: z.number(), widthDecades: z.number(), points: z.number().int() })
          .nullable(),
      }),
    ),
    comparisons: z.array(
      z.object({
        a: z.string(),
        b: z.string(),
        meanDiff: z.number(),
        welch: testResult,
        paired: z
          .object({
            t: z.number(),
            df: z.number(),
            p: z.number(),
            meanDiff: z.number(),
            diffCi95: z.tuple([z.number(), z.number()]),
            pairs: z.number().int(),
          })
          .nullable(),
        p: nullableNum,
        diffCi95: ci.meta({ description: '95% CI of meanDiff (paired when paired, else Welch)' }),
        pHolm: nullableNum.meta({
          description: 'for a comparison with the winner: p adjusted by Holm over the k − 1 comparisons with it',
        }),
        significant: z.boolean().meta({ description: 'with the winner: pHolm < alpha; between two others: p < alpha' }),
      }),
    ),
    /** On a horizon axis: each schedule (as the grid gave it) at its best base LR, per horizon ("loss vs horizon"). */
    horizons: z.array(
      z.object({
        family: z.string(),
        label: z.string(),
        points: z.array(
          z.object({
            horizon: z.number().int(),
            scheduleKey: z.string(),
            baseLr: z.number().nullable(),
            mean: nullableNum,
            ci95: ci,
            n: z.number().int(),
          }),
        ),
      }),
    ),
    rows: z.array(
      z
        .object({
          scheduleKey: z.string(),
          horizon: z.number().int().optional(),
          label: z.string(),
          schedule: scheduleSchema,
          configId: z.string(),
          baseLr: z.number(),
          n: z.number().int(),
          mean: z.number(),
          ci95: ci,
          delta: z
            .number()
            .meta({ description: "mean − the winner's mean at each one's best base LR (0 for the winner)" }),
          diffCi95: ci,
          p: nullableNum,
          pHolm: nullableNum,
          test: z.enum(['paired', 'welch']).nullable(),
          indistinguishable: z.boolean().meta({
            description: 'not the winner and not distinguishable from it (Holm-adjusted p ≥ alpha, or untestable)',
          }),
          basin: z
            .object({ lo: z.number(), hi: z.number(), widthDecades: z.number(), points: z.number().int() })
            .nullable(),
          warnings: z.array(
            z.object({ code: z.enum(['best_lr_at_edge', 'few_seeds', 'partial', 'diverged']), message: z.string() }),
          ),
        })
        .meta({ id: 'VerdictRow' }),
    ),
    seedsToResolve: z.number().int().nullable().meta({
      description:
        'seeds per configuration that would resolve the top two at alpha with power 0.8 (from the spread seen)',
    }),
  })
  .meta({ id: 'ScheduleAnalysis' });

export const curvesQuery = z.strictObject({
  metric: metricNameSchema.default('val_loss'),
  configs: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().max(64)).min(1).max(50))
    .optional()
    .describe('comma-separated config ids (default: the 20 best)'),
  points: z.coerce.number().int().min(10).max(5000).default(500),
  format: z.enum(['json', 'csv']).default('json'),
});

export const curvesAnswer = z
  .object({
    metric: metricNameSchema,
    points: z.number().int(),
    selectedOn,
    curves: z.array(
      z.object({
        configId: z.string(),
        baseLr: z.number(),
        schedule: scheduleSchema,
        label: z.string(),
        steps: z.array(z.number().int()),
        n: z.array(z.number().int()),
        mean: z.array(z.number()),
        ci95Lo: z.array(nullableNum),
        ci95Hi: z.array(nullableNum),
        /** Standard error of the mean per point (null below two seeds). */
        sem: z.array(nullableNum),
        /** Smallest and largest seed per point (null for series stored before v1.1's ranges). */
        min: z.array(nullableNum),
        max: z.array(nullableNum),
        lr: z.object({ steps: z.array(z.number().int()), mean: z.array(z.number()) }),
      }),
    ),
  })
  .meta({ id: 'Curves' });
