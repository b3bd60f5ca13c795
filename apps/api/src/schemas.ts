import { metricNameSchema, scheduleSchema } from '@lrsweep/schedules';
import { z } from 'zod';

/** Response shapes: they serialize the answers and document them in /openapi.json. */
const num = z.number();
const nullableNum = num.nullable();

export const statusCountsSchema = z.object({
  total: z.number().int(),
  queued: z.number().int(),
  running: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  diverged: z.number().int(),
  cancelled: z.number().int(),
});

export const sweepSummarySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    status: z.enum(['queued', 'running', 'completed', 'cancelled']),
    counts: statusCountsSchema,
    trialCount: z.number().int(),
    createdAt: z.iso.datetime(),
    cancelledAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'SweepSummary' });

export const sweepDetailSchema = sweepSummarySchema
  .extend({ objective: z.unknown(), spec: z.unknown() })
  .meta({ id: 'Sweep' });

export const sweepCreatedSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    status: z.literal('queued'),
    trialCount: z.number().int(),
    configCount: z.number().int(),
    totalSteps: z.number().int(),
  })
  .meta({ id: 'SweepCreated' });

export const pageQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

export const idParamsSchema = z.strictObject({ id: z.uuid() });

const config = z.object({ baseLr: num, schedule: scheduleSchema });

export const trialSchema = z
  .object({
    id: z.uuid(),
    configId: z.string(),
    config: config.extend({ seed: z.number().int() }),
    status: z.enum(['queued', 'running', 'completed', 'failed', 'diverged', 'cancelled']),
    attempt: z.number().int(),
    totalSteps: z.number().int(),
    workerId: z.string().nullable(),
    backend: z.string().nullable(),
    queuedAt: z.iso.datetime().meta({ description: 'When the trial was created (queued).' }),
    startedAt: z.iso.datetime().nullable().meta({ description: 'When a worker claimed its current attempt.' }),
    trainingStartedAt: z.iso.datetime().nullable().meta({ description: "When the finished attempt's training loop started (worker clock)." }),
    trainMs: z.number().int().nullable().meta({ description: "How long the finished attempt's training loop ran, in ms." }),
    finishedAt: z.iso.datetime().nullable(),
    error: z.string().nullable(),
    divergedAtStep: z.number().int().nullable(),
    finalValLoss: nullableNum,
    finalValAcc: nullableNum,
  })
  .meta({ id: 'Trial' });

export const metricsQuerySchema = z.strictObject({
  from: z.coerce.number().int().min(0).optional(),
  to: z.coerce.number().int().min(0).optional(),
});

export const metricsSchema = z
  .object({
    updates: z.array(z.object({ step: z.number().int(), lr: num, trainLoss: nullableNum })),
    evals: z.array(z.object({ step: z.number().int(), valLoss: nullableNum, valAcc: nullableNum })),
  })
  .meta({ id: 'TrialMetrics' });

export const rankingRowSchema = z.object({
  rank: z.number().int(),
  configId: z.string(),
  config,
  n: z.number().int(),
  diverged: z.number().int(),
  seeds: z.number().int(),
  mean: nullableNum,
  std: nullableNum,
  sem: nullableNum,
  ci95: z.tuple([num, num]).nullable(),
  partial: z.boolean(),
});

export const objective = z.object({ metric: metricNameSchema, mode: z.enum(['min', 'max']), aggregate: z.enum(['final', 'best', 'auc']) });
export const resultQuery = z.strictObject({
  metric: metricNameSchema.optional().describe('the sweep objective’s metric unless given'),
  aggregate: z.enum(['final', 'best', 'auc']).optional().describe('final evaluation, best evaluation, or the mean over evaluations (auc)'),
  rankBy: z.enum(['mean', 'ci']).optional().describe('mean, or the pessimistic end of the 95% CI'),
  format: z.enum(['json', 'csv']).default('json'),
});
const testResult = z.object({ t: z.number(), df: z.number(), p: z.number(), meanDiff: z.number() }).nullable();

export const schedulesAnswer = z
  .object({
    objective,
    provisional: z.boolean(),
    winner: z.string().nullable(),
    verdict: z.string(),
    alpha: z.number(),
    tolerance: z.number(),
    schedules: z.array(
      z.object({
        scheduleKey: z.string(),
        label: z.string(),
        schedule: scheduleSchema,
        best: z.object({ configId: z.string(), baseLr: z.number(), mean: z.number(), ci95: z.tuple([z.number(), z.number()]).nullable(), n: z.number().int() }).nullable(),
        sensitivity: z.array(
          z.object({ configId: z.string(), baseLr: z.number(), n: z.number().int(), mean: nullableNum, ci95: z.tuple([z.number(), z.number()]).nullable(), diverged: z.number().int() }),
        ),
        basin: z.object({ lo: z.number(), hi: z.number(), widthDecades: z.number(), points: z.number().int() }).nullable(),
      }),
    ),
    comparisons: z.array(
      z.object({
        a: z.string(),
        b: z.string(),
        meanDiff: z.number(),
        welch: testResult,
        paired: z.object({ t: z.number(), df: z.number(), p: z.number(), meanDiff: z.number(), pairs: z.number().int() }).nullable(),
        p: nullableNum,
        significant: z.boolean(),
      }),
    ),
  })
  .meta({ id: 'ScheduleAnalysis' });

export const curvesAnswer = z
  .object({
    metric: metricNameSchema,
    points: z.number().int(),
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
        lr: z.object({ steps: z.array(z.number().int()), mean: z.array(z.number()) }),
      }),
    ),
  })
  .meta({ id: 'Curves' });

export const resultsAnswer = z
  .object({ objective, rankBy: z.enum(['mean', 'ci']), provisional: z.boolean(), ranking: z.array(rankingRowSchema.extend({ scheduleKey: z.string() })) })
  .meta({ id: 'Results' });
