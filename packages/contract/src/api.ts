/**
 * The API's request and answer schemas. The API registers them on its routes (they validate and
 * serialize, and generate /openapi.json); clients derive their types from them (./types.ts).
 */
import { scheduleDraftSchema, scheduleSchema } from '@lrsweep/schedules';
import { z } from 'zod';
import { paramGroupSchema } from './agents';
import { poolNameSchema, projectIdSchema } from './jobs';
import { tokenRoleSchema } from './roles';
import { sweepStatusSchema, trialStatusSchema } from './states';
import { ashaPlanSchema, configView, forkPlanSchema } from './search-views';
import { gridSchema, maxGridValues } from './spec';
import { nullableNum, selectedOn } from './api-shared';
import { sweepNumericsSchema } from './numerics';

export * from './results-api';

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
    endedAt: z.iso
      .datetime()
      .nullable()
      .meta({ description: 'when its last trial ended or it was cancelled; null while it runs' }),
  })
  .meta({ id: 'SweepSummary' });

export const sweepDetailSchema = sweepSummarySchema
  .extend({
    forks: forkPlanSchema.optional(),
    objective: z.unknown(),
    spec: z.unknown(),
    /** Why trials failed: each reason with the number of trials it ended, most first. */
    failures: z.array(z.object({ code: z.string(), message: z.string(), count: z.number().int() })),
    /** Built-in sweeps: the numerics key every trial trains under, once its first trial has chosen it. */
    numerics: sweepNumericsSchema.nullable().optional(),
    unrunnable: z.string().nullable().optional().meta({
      description:
        "built-in sweeps: set while trials wait and no live worker of the sweep's pool can train them (its numerics key, or the backend its spec asks for): why",
    }),
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
    seeds: z
      .union([
        z.number().int().positive().max(maxGridValues),
        z
          .array(
            z
              .number()
              .int()
              .min(0)
              .max(2 ** 31 - 1),
          )
          .min(1)
          .max(maxGridValues),
      ])
      .optional(),
    horizon: z
      .array(z.number().int().positive())
      .min(1)
      .max(maxGridValues)
      .optional()
      .meta({ description: 'more horizons (updates), for a sweep with a horizon axis' }),
    config: gridSchema.shape.config,
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), {
    message: 'name at least one of baseLr, schedule, seeds, config',
  })
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
    delivery: z
      .enum(['queued', 'pending'])
      .meta({ description: 'pending: the queue could not take the jobs now; the reconciler delivers them' }),
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
    trainingStartedAt: z.iso
      .datetime()
      .nullable()
      .meta({ description: "When the finished attempt's training loop started (worker clock)." }),
    trainMs: z
      .number()
      .int()
      .nullable()
      .meta({ description: "How long the finished attempt's training loop ran, in ms." }),
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
            /** Native CPU trials: whether lrsweep's fused layer-norm and GELU kernels ran (absent elsewhere). */
            fusedKernels: z.boolean().optional(),
            /** Built-in trials: the sweep's numerics key it trained under, as one line. */
            numerics: z.string().optional(),
            /** Set when this attempt resumed on another kind of CPU than the one that checkpointed (bits may differ). */
            resumedFromCpuModel: z.string().optional(),
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
    outcome: z
      .enum(['completed', 'failed', 'diverged', 'cancelled', 'pruned', 'requeued'])
      .nullable()
      .meta({ description: 'null while it runs; requeued: released or timed out, and queued again' }),
    error: z.string().nullable(),
    errorCode: z.string().nullable(),
    paramGroups: z.array(paramGroupSchema).nullable().meta({
      description:
        "the trainer's optimizer parameter groups for this attempt (group 0 at the schedule's rate), when it declared them",
    }),
  })
  .meta({ id: 'TrialAttempt' });
export const trialAttemptsAnswer = z.object({ attempts: z.array(trialAttemptSchema) });

/** A sweep's trials: a page as JSON, or every trial as CSV (provenance included). */
export const trialListQuerySchema = pageQuerySchema.extend({
  status: trialStatusSchema.optional(),
  format: z
    .enum(['json', 'csv'])
    .default('json')
    .meta({ description: 'csv: every trial (limit and offset do not apply), with its provenance' }),
});

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
    if (b.admin !== undefined && b.role !== undefined)
      ctx.addIssue({ code: 'custom', path: ['admin'], message: 'give role or admin, not both' });
    const role = b.role ?? (b.admin ? 'admin' : 'member');
    if (role === 'agent' && !b.pools)
      ctx.addIssue({ code: 'custom', path: ['pools'], message: 'an agent token needs the pools it serves' });
    if (role !== 'agent' && b.pools)
      ctx.addIssue({ code: 'custom', path: ['pools'], message: 'only agent tokens are limited to pools' });
  })
  .transform((b) => ({
    projectId: b.projectId,
    name: b.name,
    role: b.role ?? (b.admin ? ('admin' as const) : ('member' as const)),
    pools: b.pools ?? [],
  }));

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
