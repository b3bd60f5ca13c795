import { z } from 'zod';

/** Step counts: non-negative integers; `length` ones must also be > 0. */
const count = z.number().int().nonnegative();
const length = z.number().int().positive();
/** A level relative to the base LR. */
const factor = z.number().min(0).max(1);
/** A multiplicative decay. */
const gamma = z.number().gt(0).max(1);

/** `warmup: { steps, startFactor }`: a linear ramp from `η·startFactor` to `η` over `steps` updates. */
export const warmupSchema = z.strictObject({
  steps: count,
  startFactor: factor.default(0),
});

const base = { warmup: warmupSchema.optional() };

export const constantSchema = z.strictObject({ kind: z.literal('constant'), ...base });

export const stepSchema = z.strictObject({
  kind: z.literal('step'),
  stepSize: length,
  gamma: gamma.default(0.1),
  ...base,
});

export const multistepSchema = z.strictObject({
  kind: z.literal('multistep'),
  milestones: z
    .array(count)
    .max(10_000)
    .refine((m) => m.every((v, i) => i === 0 || v >= m[i - 1]!), 'milestones must be non-decreasing'),
  gamma: gamma.default(0.1),
  ...base,
});

export const exponentialSchema = z.strictObject({ kind: z.literal('exponential'), gamma, ...base });

export const linearSchema = z.strictObject({
  kind: z.literal('linear'),
  startFactor: factor.default(1),
  endFactor: factor.default(0),
  steps: length.optional(),
  ...base,
});

export const polynomialSchema = z.strictObject({
  kind: z.literal('polynomial'),
  power: z.number().positive().max(1000).default(1),
  endFactor: factor.default(0),
  steps: length.optional(),
  ...base,
});

export const cosineSchema = z.strictObject({
  kind: z.literal('cosine'),
  minFactor: factor.default(0),
  steps: length.optional(),
  ...base,
});

export const cosineRestartsSchema = z
  .strictObject({
    kind: z.literal('cosine_restarts'),
    period: length.optional(),
    periodMult: z.number().int().min(1).max(1000).optional(),
    cycles: z.number().positive().max(1e6).optional(),
    minFactor: factor.default(0),
    ...base,
  })
  .superRefine((s, ctx) => {
    if ((s.period === undefined) === (s.cycles === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['period'], message: 'give exactly one of period or cycles' });
    }
    if (s.cycles !== undefined && s.periodMult !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['periodMult'], message: 'periodMult goes with period, not cycles' });
    }
  });

export const cyclicSchema = z.strictObject({
  kind: z.literal('cyclic'),
  minFactor: factor,
  stepSizeUp: length,
  stepSizeDown: length.optional(),
  mode: z.enum(['triangular', 'triangular2', 'exp_range']).default('triangular'),
  gamma: gamma.default(1),
  ...base,
});

export const oneCycleSchema = z.strictObject({
  kind: z.literal('one_cycle'),
  pctStart: z.number().gt(0).lt(1).default(0.3),
  anneal: z.enum(['cos', 'linear']).default('cos'),
  divFactor: z.number().min(1).max(1e12).default(25),
  finalDivFactor: z.number().min(1).max(1e12).default(1e4),
  threePhase: z.boolean().default(false),
  steps: length.optional(),
  ...base,
});

export const inverseSqrtSchema = z.strictObject({
  kind: z.literal('inverse_sqrt'),
  timescale: length.optional(),
  ...base,
});

export const wsdSchema = z
  .strictObject({
    kind: z.literal('wsd'),
    decaySteps: length.optional(),
    decayFraction: z.number().gt(0).max(1).optional(),
    decayShape: z.enum(['cosine', 'linear', '1-sqrt']).default('cosine'),
    minFactor: factor.default(0),
    ...base,
  })
  .superRefine((s, ctx) => {
    if ((s.decaySteps === undefined) === (s.decayFraction === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['decaySteps'], message: 'give exactly one of decaySteps or decayFraction' });
    }
  });

/** The metric a plateau watches: a `val_*` or `train_*` the trainer reports (never `test_*`). */
export const plateauMetricSchema = z.string().max(64).regex(/^(train|val)_[a-z0-9_]+$/, 'a val_* or train_* metric');

export const reduceOnPlateauSchema = z.strictObject({
  kind: z.literal('reduce_on_plateau'),
  metric: plateauMetricSchema.optional(),
  mode: z.enum(['min', 'max']).optional(),
  factor: z.number().gt(0).lt(1).default(0.1),
  patience: count.default(10),
  threshold: z.number().min(0).max(1e6).default(1e-4),
  thresholdMode: z.enum(['rel', 'abs']).default('rel'),
  cooldown: count.default(0),
  minFactor: factor.default(0),
  ...base,
});

const leafSchemas = [
  constantSchema,
  stepSchema,
  multistepSchema,
  exponentialSchema,
  linearSchema,
  polynomialSchema,
  cosineSchema,
  cosineRestartsSchema,
  cyclicSchema,
  oneCycleSchema,
  inverseSqrtSchema,
  wsdSchema,
  reduceOnPlateauSchema,
] as const;
const leafScheduleSchema = z.discriminatedUnion('kind', [...leafSchemas]);
type LeafSpec = z.output<typeof leafScheduleSchema>;
type LeafInput = z.input<typeof leafScheduleSchema>;

export type Warmup = z.output<typeof warmupSchema>;

/** `sequential`: part `k` runs on its own clock from milestone `k` (PyTorch SequentialLR). */
export interface SequentialSpec {
  kind: 'sequential';
  parts: ScheduleSpec[];
  milestones: number[];
  warmup?: Warmup | undefined;
}
export interface SequentialInput {
  kind: 'sequential';
  parts: ScheduleInput[];
  milestones: number[];
  warmup?: z.input<typeof warmupSchema> | undefined;
}
export type ScheduleSpec = LeafSpec | SequentialSpec;
export type ScheduleInput = LeafInput | SequentialInput;
export type ScheduleKind = ScheduleSpec['kind'];

export const sequentialSchema = z
  .strictObject({
    kind: z.literal('sequential'),
    get parts(): z.ZodArray<z.ZodType<ScheduleSpec, ScheduleInput>> {
      return z.array(scheduleSchema).min(1).max(100);
    },
    milestones: z.array(length).max(99),
    ...base,
  })
  .superRefine((s, ctx) => {
    if (s.milestones.length !== s.parts.length - 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['milestones'],
        message: `expected ${s.parts.length - 1} milestones (one fewer than parts), got ${s.milestones.length}`,
      });
    }
    s.milestones.forEach((m, i) => {
      if (i > 0 && m <= s.milestones[i - 1]!) {
        ctx.addIssue({ code: 'custom', path: ['milestones', i], message: 'milestones must be strictly increasing' });
      }
    });
  });

/** Every schedule kind lrsweep knows, discriminated by `kind`. Defaults are filled on parse. */
export const scheduleSchema: z.ZodType<ScheduleSpec, ScheduleInput> = z.discriminatedUnion('kind', [
  ...leafSchemas,
  sequentialSchema,
]);
