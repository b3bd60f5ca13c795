import { z } from 'zod';

/** The shapes a decay to zero takes (wsd's `decayShape`, a cooldown's `shape`): f(p) = 1 − p, (1 + cos πp)/2, 1 − √p. */
export const cooldownShapes = ['linear', 'cosine', '1-sqrt'] as const;
export type CooldownShape = (typeof cooldownShapes)[number];

/** A level relative to the base LR. */
const factor = z.number().min(0).max(1);
/** A multiplicative decay. */
const gamma = z.number().gt(0).max(1);

/**
 * A length in the units people use (SCHEDULES.md v1.1): a fraction of the horizon the parameter
 * lives in (`ceil(f·H)`), or a number of epochs (`ceil(e·S)`). Resolved to steps at expansion.
 */
export const lengthObjectSchema = z.union([
  z.strictObject({ fraction: z.number().gt(0).max(1) }),
  z.strictObject({ epochs: z.number().gt(0).max(1e6) }),
]);
export type LengthObject = z.output<typeof lengthObjectSchema>;

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const ordered = (m: readonly unknown[]) =>
  m.every((v, i) => i === 0 || typeof v !== 'number' || typeof m[i - 1] !== 'number' || v >= (m[i - 1] as number));
const increasing = (m: readonly unknown[]) =>
  m.every((v, i) => i === 0 || typeof v !== 'number' || typeof m[i - 1] !== 'number' || v > (m[i - 1] as number));

/**
 * Every schedule kind's schema, built for a kind of length: integers (`resolved`: what the rates
 * are computed from) or integers and length objects (`draft`: what a spec may say). The same
 * rules either way; ordering rules apply to the numbers given (the rest once resolved).
 */
function schemasFor<L extends z.ZodType, C extends z.ZodType>(length: L, count: C) {
  const warmup = z.strictObject({ steps: count, startFactor: factor.default(0) });
  const interval = z
    .enum(['update', 'epoch'])
    .optional()
    .meta({ description: "'epoch': the rate changes only at epoch boundaries (PyTorch's once-per-epoch step)" });
  const base = { warmup: warmup.optional(), interval };
  /**
   * A cooldown ending the schedule (Hägele et al. 2024): its last `steps` updates (or `fraction`
   * of the trial's T, `ceil(f·T)`) go from the rate the schedule has where the cooldown starts down
   * to zero in `shape` (wsd's shapes), whatever the schedule would have done there. `constant` with
   * a cooldown is wsd; on a horizon axis a cooldown makes any schedule whose rates before it do not
   * depend on the horizon forkable.
   */
  const cooldown = z
    .strictObject({
      steps: length.optional(),
      fraction: z.number().gt(0).lt(1).optional(),
      shape: z.enum(cooldownShapes).default('linear'),
    })
    .superRefine((c, ctx) => {
      if ((c.steps === undefined) === (c.fraction === undefined))
        ctx.addIssue({ code: 'custom', path: ['steps'], message: 'give exactly one of steps or fraction' });
    })
    .optional()
    .meta({ description: "the schedule's last updates cool the rate from where it stands to zero" });
  const ending = { ...base, cooldown };

  const leaves = [
    z.strictObject({ kind: z.literal('constant'), ...ending }),
    z.strictObject({ kind: z.literal('step'), stepSize: length, gamma: gamma.default(0.1), ...ending }),
    z.strictObject({
      kind: z.literal('multistep'),
      milestones: z.array(count).max(10_000).refine(ordered, 'milestones must be non-decreasing'),
      gamma: gamma.default(0.1),
      ...ending,
    }),
    z
      .strictObject({
        kind: z.literal('exponential'),
        gamma: gamma.optional(),
        /** Instead of `gamma`: the factor reached after `steps` updates (gamma = endFactor^(1/steps)). */
        endFactor: z.number().gt(0).max(1).optional(),
        /** With `endFactor` only (default: its horizon). */
        steps: length.optional(),
        /** The rate never drops below η·minFactor (D2L's stop_factor_lr); absent, 0 (a v1 spec keeps its identity). */
        minFactor: factor.optional(),
        ...ending,
      })
      .superRefine((s, ctx) => {
        if ((s.gamma === undefined) === (s.endFactor === undefined))
          ctx.addIssue({ code: 'custom', path: ['gamma'], message: 'give exactly one of gamma or endFactor' });
        if (s.steps !== undefined && s.endFactor === undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['steps'],
            message: 'steps goes with endFactor (gamma decays for ever)',
          });
      }),
    z.strictObject({
      kind: z.literal('linear'),
      startFactor: factor.default(1),
      endFactor: factor.default(0),
      steps: length.optional(),
      ...ending,
    }),
    z.strictObject({
      kind: z.literal('polynomial'),
      power: z.number().positive().max(1000).default(1),
      endFactor: factor.default(0),
      steps: length.optional(),
      ...ending,
    }),
    z.strictObject({ kind: z.literal('cosine'), minFactor: factor.default(0), steps: length.optional(), ...ending }),
    z
      .strictObject({
        kind: z.literal('cosine_restarts'),
        period: length.optional(),
        periodMult: z.number().int().min(1).max(1000).optional(),
        cycles: z.number().positive().max(1e6).optional(),
        minFactor: factor.default(0),
        ...ending,
      })
      .superRefine((s, ctx) => {
        if ((s.period === undefined) === (s.cycles === undefined))
          ctx.addIssue({ code: 'custom', path: ['period'], message: 'give exactly one of period or cycles' });
        if (s.cycles !== undefined && s.periodMult !== undefined)
          ctx.addIssue({ code: 'custom', path: ['periodMult'], message: 'periodMult goes with period, not cycles' });
      }),
    z.strictObject({
      kind: z.literal('cyclic'),
      minFactor: factor,
      stepSizeUp: length,
      stepSizeDown: length.optional(),
      mode: z.enum(['triangular', 'triangular2', 'exp_range']).default('triangular'),
      gamma: gamma.default(1),
      ...ending,
    }),
    z.strictObject({
      kind: z.literal('one_cycle'),
      pctStart: z.number().gt(0).lt(1).default(0.3),
      anneal: z.enum(['cos', 'linear']).default('cos'),
      divFactor: z.number().min(1).max(1e12).default(25),
      finalDivFactor: z.number().min(1).max(1e12).default(1e4),
      threePhase: z.boolean().default(false),
      steps: length.optional(),
      ...ending,
    }),
    z.strictObject({ kind: z.literal('inverse_sqrt'), timescale: length.optional(), ...ending }),
    /**
     * lrsweep's own (not in SCHEDULES.md): the LR range test's exponential ramp (Smith 2017;
     * fastai's lr_find), from `η·startFactor` at update 0 up to `η` at update `steps − 1`
     * (default: the horizon), then held.
     */
    z.strictObject({
      kind: z.literal('lr_range'),
      startFactor: z.number().gt(0).max(1),
      steps: length.optional(),
      ...base,
    }),
    z
      .strictObject({
        kind: z.literal('wsd'),
        decaySteps: length.optional(),
        decayFraction: z.number().gt(0).max(1).optional(),
        decayShape: z.enum(['cosine', 'linear', '1-sqrt']).default('cosine'),
        minFactor: factor.default(0),
        ...ending,
      })
      .superRefine((s, ctx) => {
        if ((s.decaySteps === undefined) === (s.decayFraction === undefined))
          ctx.addIssue({
            code: 'custom',
            path: ['decaySteps'],
            message: 'give exactly one of decaySteps or decayFraction',
          });
      }),
    z
      .strictObject({
        kind: z.literal('reduce_on_plateau'),
        metric: plateauMetricSchema.optional(),
        mode: z.enum(['min', 'max']).optional(),
        factor: z.number().gt(0).lt(1).default(0.1),
        patience: nonNegativeInt.default(10),
        threshold: z.number().min(0).max(1e6).default(1e-4),
        thresholdMode: z.enum(['rel', 'abs']).default('rel'),
        cooldown: nonNegativeInt.default(0),
        minFactor: factor.default(0),
        ...base,
      })
      .superRefine((s, ctx) => {
        if (s.interval === 'epoch')
          ctx.addIssue({
            code: 'custom',
            path: ['interval'],
            message: 'a plateau schedule changes at evaluations; interval does not apply to it',
          });
      }),
  ] as const;
  return { warmup, leaves, length, count };
}

/** The metric a plateau watches: a `val_*` or `train_*` the trainer reports (never `test_*`). */
export const plateauMetricSchema = z
  .string()
  .max(64)
  .regex(/^(train|val)_[a-z0-9_]+$/, 'a val_* or train_* metric');

const resolvedParts = schemasFor(positiveInt, nonNegativeInt);
const draftParts = schemasFor(
  z.union([positiveInt, lengthObjectSchema]),
  z.union([nonNegativeInt, lengthObjectSchema]),
);

/** `warmup: { steps, startFactor }`: a linear ramp from `η·startFactor` to `η` over `steps` updates. */
export const warmupSchema = resolvedParts.warmup;

const leafScheduleSchema = z.discriminatedUnion('kind', [...resolvedParts.leaves]);
const leafDraftSchema = z.discriminatedUnion('kind', [...draftParts.leaves]);
type LeafSpec = z.output<typeof leafScheduleSchema>;
type LeafInput = z.input<typeof leafScheduleSchema>;
type LeafDraft = z.output<typeof leafDraftSchema>;
type LeafDraftInput = z.input<typeof leafDraftSchema>;

export type Warmup = z.output<typeof warmupSchema>;
export type Interval = 'update' | 'epoch';

/** `sequential`: part `k` runs on its own clock from milestone `k` (PyTorch SequentialLR). */
export interface SequentialSpec {
  kind: 'sequential';
  parts: ScheduleSpec[];
  milestones: number[];
  warmup?: Warmup | undefined;
  interval?: Interval | undefined;
}
export interface SequentialInput {
  kind: 'sequential';
  parts: ScheduleInput[];
  milestones: number[];
  warmup?: z.input<typeof warmupSchema> | undefined;
  interval?: Interval | undefined;
}
/** A schedule with every length in steps: what rates are computed from, and what trials record. */
export type ScheduleSpec = LeafSpec | SequentialSpec;
export type ScheduleInput = LeafInput | SequentialInput;
export type ScheduleKind = ScheduleSpec['kind'];

type DraftLength = number | LengthObject;
export interface SequentialDraft {
  kind: 'sequential';
  parts: ScheduleDraft[];
  milestones: DraftLength[];
  warmup?: z.output<typeof draftParts.warmup> | undefined;
  interval?: Interval | undefined;
}
export interface SequentialDraftInput {
  kind: 'sequential';
  parts: ScheduleDraftInput[];
  milestones: DraftLength[];
  warmup?: z.input<typeof draftParts.warmup> | undefined;
  interval?: Interval | undefined;
}
/** A schedule as a spec may give it: any length may be `{ fraction }` or `{ epochs }`. */
export type ScheduleDraft = LeafDraft | SequentialDraft;
export type ScheduleDraftInput = LeafDraftInput | SequentialDraftInput;

const sequentialRules = (s: { parts: unknown[]; milestones: unknown[]; interval?: Interval }, ctx: z.RefinementCtx) => {
  if (s.milestones.length !== s.parts.length - 1) {
    ctx.addIssue({
      code: 'custom',
      path: ['milestones'],
      message: `expected ${s.parts.length - 1} milestones (one fewer than parts), got ${s.milestones.length}`,
    });
  }
  s.milestones.forEach((m, i) => {
    if (i > 0 && !increasing([s.milestones[i - 1], m]))
      ctx.addIssue({ code: 'custom', path: ['milestones', i], message: 'milestones must be strictly increasing' });
  });
  s.parts.forEach((p, i) => {
    if ((p as { interval?: Interval }).interval === 'epoch')
      ctx.addIssue({
        code: 'custom',
        path: ['parts', i, 'interval'],
        message: 'interval: epoch applies to a whole schedule, not to a sequential part',
      });
    if ((p as { cooldown?: unknown }).cooldown !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['parts', i, 'cooldown'],
        message: 'a cooldown ends a whole schedule, not a sequential part',
      });
  });
};

export const sequentialSchema = z
  .strictObject({
    kind: z.literal('sequential'),
    get parts(): z.ZodArray<z.ZodType<ScheduleSpec, ScheduleInput>> {
      return z.array(scheduleSchema).min(1).max(100);
    },
    milestones: z.array(positiveInt).max(99),
    warmup: warmupSchema.optional(),
    interval: z.enum(['update', 'epoch']).optional(),
  })
  .superRefine(sequentialRules);

const sequentialDraftSchema = z
  .strictObject({
    kind: z.literal('sequential'),
    get parts(): z.ZodArray<z.ZodType<ScheduleDraft, ScheduleDraftInput>> {
      return z.array(scheduleDraftSchema).min(1).max(100);
    },
    milestones: z.array(z.union([positiveInt, lengthObjectSchema])).max(99),
    warmup: draftParts.warmup.optional(),
    interval: z.enum(['update', 'epoch']).optional(),
  })
  .superRefine(sequentialRules);

/** Every schedule kind lrsweep knows, lengths in steps, discriminated by `kind`. Defaults are filled on parse. */
export const scheduleSchema: z.ZodType<ScheduleSpec, ScheduleInput> = z.discriminatedUnion('kind', [
  ...resolvedParts.leaves,
  sequentialSchema,
]);

/** A schedule as a spec may write it (lengths also as `{ fraction }` or `{ epochs }`). */
export const scheduleDraftSchema: z.ZodType<ScheduleDraft, ScheduleDraftInput> = z.discriminatedUnion('kind', [
  ...draftParts.leaves,
  sequentialDraftSchema,
]);

/** A resolved schedule's cooldown (its `steps` resolved), if it has one (reduce_on_plateau's `cooldown` is PyTorch's, not this). */
export function cooldownOf(spec: ScheduleSpec): { steps: number; shape: CooldownShape } | undefined {
  if (spec.kind === 'reduce_on_plateau' || spec.kind === 'sequential' || !('cooldown' in spec) || !spec.cooldown)
    return undefined;
  const c = spec.cooldown as { steps?: number; shape: CooldownShape };
  return c.steps === undefined ? undefined : { steps: c.steps, shape: c.shape };
}
