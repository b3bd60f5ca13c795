/**
 * The API's request and answer schemas. The API registers them on its routes (they validate and
 * serialize, and generate /openapi.json); clients derive their types from them (./types.ts).
 */
import { scheduleDraftSchema, scheduleSchema } from '@lrsweep/schedules';
import { z } from 'zod';
import { poolNameSchema, projectIdSchema } from './jobs';
import { aggregateSchema, metricNameSchema, selectionMetricSchema } from './metrics';
import { tokenRoleSchema } from './roles';
import { sweepStatusSchema, trialStatusSchema } from './states';
import { ashaPlanSchema, configView, forkPlanSchema, prunedRowSchema } from './search-views';
import { gridSchema, maxGridValues } from './spec';

const num = z.number();
const nullableNum = num.nullable();
const ci = z.tuple([num, num]).nullable();
const selectedOn = z.enum(['validation', 'test', 'trainer']).meta({ description: 'the split the ranking selects on (SWEEP_API.md v1.1)' });

export const statusCountsSchema = z.object({
  total: z.number().int(),
  queued: z.number().int(),
  running: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  diverged: z.number().int(),
  cancelled: z.number().int(),
  pruned: z.number().int(),
});

export const sweepSummarySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    status: sweepStatusSchema,
    counts: statusCountsSchema,
    trialCount: z.number().int(),
    runner: z.enum(['builtin', 'external']),
    pool: z.string(),
    selectedOn,
    createdAt: z.iso.datetime(),
    cancelledAt: z.iso.datetime().nullable(),
    endedAt: z.iso.datetime().nullable().meta({ description: 'when its last trial ended or it was cancelled; null while it runs' }),
  })
  .meta({ id: 'SweepSummary' });

export const sweepDetailSchema = sweepSummarySchema
  .extend({
    forks: forkPlanSchema.optional(),
    objective: z.unknown(),
    spec: z.unknown(),
    /** Why trials failed: each reason with the number of trials it ended, most first. */
    failures: z.array(z.object({ code: z.string(), message: z.string(), count: z.number().int() })),
  })
  .meta({ id: 'Sweep' });

/**
 * Growing a sweep (SWEEP_API.md v1.1): a partial grid whose lists are merged with the sweep's
 * (overlaps ignored; a seed count n means [0 … n−1]). Existing trials never change.
 */
export const extendSweepBody = z
  .strictObject({
    baseLr: gridSchema.shape.baseLr.optional(),
    schedule: gridSchema.shape.schedule.optional(),
    seeds: z.union([z.number().int().positive().max(maxGridValues), z.array(z.number().int().min(0).max(2 ** 31 - 1)).min(1).max(maxGridValues)]).optional(),
    horizon: z.array(z.number().int().positive()).min(1).max(maxGridValues).optional().meta({ description: 'more horizons (updates), for a sweep with a horizon axis' }),
    config: gridSchema.shape.config,
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'name at least one of baseLr, schedule, seeds, config' })
  .meta({ id: 'ExtendSweep' });
export const extendAnswer = z
  .object({
    id: z.uuid(),
    addedTrials: z.number().int(),
    trialCount: z.number().int(),
    delivery: z.enum(['queued', 'pending']),
  })
  .meta({ id: 'SweepExtended' });

export const sweepCreatedSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    status: z.literal('queued'),
    trialCount: z.number().int(),
    configCount: z.number().int(),
    totalSteps: z.number().int(),
    selectedOn,
    delivery: z.enum(['queued', 'pending']).meta({ description: "pending: the queue could not take the jobs now; the reconciler delivers them" }),
  })
  .meta({ id: 'SweepCreated' });

export const validateAnswer = z.union([
  z.object({
    valid: z.literal(true),
    trialCount: z.number().int(),
    configCount: z.number().int(),
    totalSteps: z.number().int(),
    totalUpdates: z.number().int(),
    forks: forkPlanSchema.optional(),
    asha: ashaPlanSchema.optional(),
  }),
  z.object({ valid: z.literal(false), issues: z.array(z.object({ path: z.string(), message: z.string() })) }),
]);

export const pageQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
});

export const idParamsSchema = z.strictObject({ id: z.uuid() });

/** A configuration: base LR × schedule, and the values of a trainer's own axes (grid.config). */

export const trialSchema = z
  .object({
    id: z.uuid(),
    sweepId: z.uuid(),
    configId: z.string(),
    config: configView.extend({ seed: z.number().int() }),
    status: trialStatusSchema,
    attempt: z.number().int(),
    /** Failed attempts so far, and how many the trial may spend. */
    failures: z.number().int(),
    failureBudget: z.number().int(),
    totalSteps: z.number().int(),
    pool: z.string(),
    workerId: z.string().nullable(),
    backend: z.string().nullable(),
    queuedAt: z.iso.datetime().meta({ description: 'When the trial was created (queued).' }),
    startedAt: z.iso.datetime().nullable().meta({ description: 'When a worker claimed its current attempt.' }),
    trainingStartedAt: z.iso.datetime().nullable().meta({ description: "When the finished attempt's training loop started (worker clock)." }),
    trainMs: z.number().int().nullable().meta({ description: "How long the finished attempt's training loop ran, in ms." }),
    finishedAt: z.iso.datetime().nullable(),
    error: z.string().nullable(),
    errorCode: z.string().nullable(),
    divergedAtStep: z.number().int().nullable(),
    finalValLoss: nullableNum,
    finalValAcc: nullableNum,
    /** The last evaluation's validation metrics (val_loss, and val_acc, val_rmse or val_ppl …). */
    final: z.record(z.string(), nullableNum),
    /** test_* metrics, measured once after the last update. */
    test: z.record(z.string(), nullableNum),
    /**
     * What the attempt that ran it used: the dataset's checksum (the same samples give the same
     * checksum), its files and the model's (relative to the worker's DATA_ROOT and MODEL_ROOT),
     * the backend, lrsweep's and TF.js's versions, the hardware. Null until a built-in worker
     * starts it (an agent's trainer reports no provenance).
     */
    provenance: z
      .object({
        datasetChecksum: z.string().nullable(),
        datasetPath: z.string().nullable(),
        modelPath: z.string().nullable(),
        backend: z.string().nullable(),
        lrsweepVersion: z.string().nullable(),
        tfjsVersion: z.string().nullable(),
        hardware: z
          .object({
            cpuModel: z.string(),
            cpuCount: z.number().int(),
            /** The GPU's model (nvidia-smi), or null on a CPU worker. */
            gpu: z.string().nullable(),
            /** GPU workers: its memory and the NVIDIA driver (absent for trials recorded before). */
            gpuMemoryMiB: z.number().int().nullable().optional(),
            driver: z.string().nullable().optional(),
          })
          .nullable(),
      })
      .nullable(),
  })
  .meta({ id: 'Trial' });

/** One attempt of a trial: who ran it, on what backend, from when to when, and how it ended. */
export const trialAttemptSchema = z
  .object({
    attempt: z.number().int(),
    workerId: z.string().nullable().meta({ description: 'the worker, or the agent by name, that ran it' }),
    agentId: z.uuid().nullable(),
    backend: z.string().nullable(),
    startedAt: z.iso.datetime(),
    endedAt: z.iso.datetime().nullable(),
    outcome: z.enum(['completed', 'failed', 'diverged', 'cancelled', 'pruned', 'requeued']).nullable().meta({ description: 'null while it runs; requeued: released or timed out, and queued again' }),
    error: z.string().nullable(),
    errorCode: z.string().nullable(),
  })
  .meta({ id: 'TrialAttempt' });
export const trialAttemptsAnswer = z.object({ attempts: z.array(trialAttemptSchema) });

/** A sweep's trials: a page as JSON, or every trial as CSV (provenance included). */
export const trialListQuerySchema = pageQuerySchema.extend({
  status: trialStatusSchema.optional(),
  format: z.enum(['json', 'csv']).default('json').meta({ description: 'csv: every trial (limit and offset do not apply), with its provenance' }),
});

/** Update rows a metrics page holds by default, and at most. */
export const metricsPage = { defaultLimit: 10_000, maxLimit: 100_000 } as const;

export const metricsQuerySchema = z.strictObject({
  from: z.coerce.number().int().min(0).max(2 ** 31 - 1).optional(),
  to: z.coerce.number().int().min(0).max(2 ** 31 - 1).optional(),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(metricsPage.maxLimit)
    .default(metricsPage.defaultLimit)
    .describe(`update rows per page (default ${metricsPage.defaultLimit}, at most ${metricsPage.maxLimit}); follow nextFrom for the rest`),
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

export const objectiveView = z.object({ metric: selectionMetricSchema, mode: z.enum(['min', 'max']), aggregate: aggregateSchema });
export const resultQuery = z.strictObject({
  metric: selectionMetricSchema.optional().describe('the sweep objective’s metric unless given (test_* never ranks)'),
  aggregate: aggregateSchema.optional().describe('final evaluation, best evaluation, or the mean over evaluations (auc)'),
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

const testResult = z.object({ t: z.number(), df: z.number(), p: z.number(), meanDiff: z.number(), diffCi95: z.tuple([z.number(), z.number()]) }).nullable();

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
        best: z.object({ configId: z.string(), baseLr: z.number(), mean: z.number(), ci95: ci, n: z.number().int() }).nullable(),
        sensitivity: z.array(z.object({ configId: z.string(), baseLr: z.number(), n: z.number().int(), mean: nullableNum, ci95: ci, sem: nullableNum, range: ci, diverged: z.number().int(), partial: z.boolean() })),
        basin: z.object({ lo: z.number(), hi: z.number(), widthDecades: z.number(), points: z.number().int() }).nullable(),
      }),
    ),
    comparisons: z.array(
      z.object({
        a: z.string(),
        b: z.string(),
        meanDiff: z.number(),
        welch: testResult,
        paired: z.object({ t: z.number(), df: z.number(), p: z.number(), meanDiff: z.number(), diffCi95: z.tuple([z.number(), z.number()]), pairs: z.number().int() }).nullable(),
        p: nullableNum,
        diffCi95: ci.meta({ description: '95% CI of meanDiff (paired when paired, else Welch)' }),
        pHolm: nullableNum.meta({ description: "for a comparison with the winner: p adjusted by Holm over the k − 1 comparisons with it" }),
        significant: z.boolean().meta({ description: 'with the winner: pHolm < alpha; between two others: p < alpha' }),
      }),
    ),
    /** On a horizon axis: each schedule (as the grid gave it) at its best base LR, per horizon ("loss vs horizon"). */
    horizons: z.array(
      z.object({
        family: z.string(),
        label: z.string(),
        points: z.array(z.object({ horizon: z.number().int(), scheduleKey: z.string(), baseLr: z.number().nullable(), mean: nullableNum, ci95: ci, n: z.number().int() })),
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
          delta: z.number().meta({ description: "mean − the winner's mean at each one's best base LR (0 for the winner)" }),
          diffCi95: ci,
          p: nullableNum,
          pHolm: nullableNum,
          test: z.enum(['paired', 'welch']).nullable(),
          indistinguishable: z.boolean().meta({ description: 'not the winner and not distinguishable from it (Holm-adjusted p ≥ alpha, or untestable)' }),
          basin: z.object({ lo: z.number(), hi: z.number(), widthDecades: z.number(), points: z.number().int() }).nullable(),
          warnings: z.array(z.object({ code: z.enum(['best_lr_at_edge', 'few_seeds', 'partial', 'diverged']), message: z.string() })),
        })
        .meta({ id: 'VerdictRow' }),
    ),
    seedsToResolve: z.number().int().nullable().meta({ description: 'seeds per configuration that would resolve the top two at alpha with power 0.8 (from the spread seen)' }),
  })
  .meta({ id: 'ScheduleAnalysis' });

export const curvesQuery = z.strictObject({
  metric: metricNameSchema.default('val_loss'),
  configs: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
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

export const cancelAnswer = z.object({ cancelledTrials: z.number().int(), sweep: sweepSummarySchema });
export const retryAnswer = z.object({ retriedTrials: z.number().int(), sweep: sweepSummarySchema });

/** The most points a preview answers with; longer curves are downsampled (LTTB). */
export const maxPreviewPoints = 2000;
/** The most steps a preview computes: a longer horizon is sampled at evenly spaced steps first. */
export const maxPreviewSteps = 200_000;

export const previewBody = z.strictObject({
  /** Lengths may be given as { fraction } or { epochs } (with stepsPerEpoch). */
  schedule: scheduleDraftSchema,
  baseLr: z.number().positive().max(1e3),
  totalSteps: z.number().int().positive().max(1_000_000),
  /** Updates per epoch, for lengths in epochs and interval: "epoch". */
  stepsPerEpoch: z.number().int().positive().max(1_000_000).optional(),
  /** Evaluation metrics a `reduce_on_plateau` schedule observes, in order. */
  metrics: z.array(z.number()).max(10_000).optional(),
  /** Updates between those evaluations (default: spread the metrics evenly over the horizon). */
  evalEvery: z.number().int().positive().optional(),
});

export const previewAnswer = z
  .object({
    totalSteps: z.number().int(),
    /** The schedule with every length resolved to steps. */
    schedule: scheduleSchema,
    downsampled: z.boolean(),
    steps: z.array(z.number().int()),
    lr: z.array(z.number()),
  })
  .meta({ id: 'SchedulePreview' });

export const tokenView = z.object({
  id: z.uuid(),
  projectId: z.string(),
  name: z.string(),
  role: tokenRoleSchema,
  /** Agent tokens: the pools they may serve. */
  pools: z.array(z.string()),
  createdAt: z.iso.datetime(),
  revokedAt: z.iso.datetime().nullable(),
});

export const createTokenBody = z
  .strictObject({
    projectId: projectIdSchema,
    name: z.string().min(1).max(200),
    role: z.enum(['admin', 'member', 'agent']).optional(),
    /** v1: `admin: true` is `role: "admin"`. */
    admin: z.boolean().optional(),
    pools: z.array(poolNameSchema).min(1).max(100).optional(),
  })
  .superRefine((b, ctx) => {
    if (b.admin !== undefined && b.role !== undefined) ctx.addIssue({ code: 'custom', path: ['admin'], message: 'give role or admin, not both' });
    const role = b.role ?? (b.admin ? 'admin' : 'member');
    if (role === 'agent' && !b.pools) ctx.addIssue({ code: 'custom', path: ['pools'], message: 'an agent token needs the pools it serves' });
    if (role !== 'agent' && b.pools) ctx.addIssue({ code: 'custom', path: ['pools'], message: 'only agent tokens are limited to pools' });
  })
  .transform((b) => ({ projectId: b.projectId, name: b.name, role: b.role ?? (b.admin ? ('admin' as const) : ('member' as const)), pools: b.pools ?? [] }));

/** GET /v1/sweeps/:id/range-test: the LR range test's curve and the base-LR grid it suggests. */
export const rangeTestAnswerSchema = z
  .object({
    id: z.uuid(),
    /** queued or running: the curve so far (provisional); else final. */
    provisional: z.boolean(),
    seeds: z.number().int(),
    points: z.array(z.object({ lr: z.number(), loss: z.number(), smoothed: z.number() })),
    suggested: z.object({ baseLr: z.array(z.number()) }),
    steepestLr: z.number().nullable(),
    minLossLr: z.number().nullable(),
    divergedAtLr: z.number().nullable(),
  })
  .meta({ id: 'RangeTest' });
export type RangeTestView = z.output<typeof rangeTestAnswerSchema>;
