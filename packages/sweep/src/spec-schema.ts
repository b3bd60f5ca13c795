import { metricNameSchema } from '@lrsweep/schedules';
import { z } from 'zod';

/** How many samples each built-in dataset has (train + test must fit). */
export const datasetSizes = { mnist: 10_000, synthetic: 1_000_000 } as const;
/** Training and test samples of the datasets read from files (their official splits). */
export const fileDatasetSizes = { 'fashion-mnist': [60_000, 10_000], 'mnist-idx': [60_000, 10_000], cifar10: [50_000, 10_000] } as const;

export const datasetSchema = z
  .strictObject({
    name: z.enum(['mnist', 'synthetic', 'fashion-mnist', 'mnist-idx', 'cifar10']).default('mnist'),
    trainSize: z.number().int().positive().default(8000),
    testSize: z.number().int().positive().default(2000),
    /** The directory of the files, as the workers see it (fashion-mnist: Debian's by default). */
    path: z.string().min(1).max(1000).optional(),
  })
  .superRefine((d, ctx) => {
    if (d.name === 'mnist' || d.name === 'synthetic') {
      const max = datasetSizes[d.name];
      if (d.trainSize + d.testSize > max) {
        ctx.addIssue({
          code: 'custom',
          path: ['trainSize'],
          message: `trainSize + testSize = ${d.trainSize + d.testSize} is larger than the '${d.name}' dataset (${max} samples)`,
        });
      }
      if (d.path !== undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: `the '${d.name}' dataset takes no path` });
      return;
    }
    const [train, test] = fileDatasetSizes[d.name];
    if (d.trainSize > train) ctx.addIssue({ code: 'custom', path: ['trainSize'], message: `'${d.name}' has ${train} training samples` });
    if (d.testSize > test) ctx.addIssue({ code: 'custom', path: ['testSize'], message: `'${d.name}' has ${test} test samples` });
    if (d.name !== 'fashion-mnist' && d.path === undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: `'${d.name}' needs the directory of its files` });
  });

export const modelSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('mlp'),
    hidden: z.array(z.number().int().positive().max(8192)).max(16).default([128]),
    /** `gelu` is GELU's tanh form (as GPT-2's and PyTorch's approximate='tanh'). */
    activation: z
      .enum(['relu', 'tanh', 'gelu'])
      .default('relu')
      .meta({ description: "relu, tanh, or gelu (GELU's tanh form, as PyTorch's approximate='tanh')" }),
  }),
  /** D2L's LeNet (sigmoid, as in the book; relu optional). */
  z.strictObject({ kind: z.literal('lenet'), activation: z.enum(['sigmoid', 'relu']).default('sigmoid') }),
  /** A small convnet: two 3×3 convolutions and a max-pool per stage, global average pooling. */
  z.strictObject({
    kind: z.literal('cnn'),
    channels: z.array(z.number().int().positive().max(512)).min(1).max(5).default([32, 64]),
    batchNorm: z.boolean().default(false),
  }),
  /** A vision transformer: patch embedding by reshape + matmul, pre-norm blocks. */
  z
    .strictObject({
      kind: z.literal('vit'),
      patchSize: z.number().int().positive().max(32).default(4),
      width: z.number().int().positive().max(1024).default(64),
      depth: z.number().int().positive().max(24).default(2),
      heads: z.number().int().positive().max(16).default(4),
      mlpRatio: z.number().int().positive().max(8).default(2),
    })
    .superRefine((m, ctx) => {
      if (m.width % m.heads !== 0) ctx.addIssue({ code: 'custom', path: ['heads'], message: `width ${m.width} is not divisible by ${m.heads} heads` });
    }),
]);

const betas = {
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  epsilon: z.number().positive().max(1).default(1e-8),
};
const weightDecay = (def: number) => z.number().min(0).max(1).default(def);

export const optimizerSchema = z.discriminatedUnion('kind', [
  /** Adam; `weightDecay` is L2 added to the gradient (PyTorch Adam). */
  z.strictObject({ kind: z.literal('adam'), ...betas, weightDecay: weightDecay(0) }),
  /** AdamW: decoupled weight decay. */
  z.strictObject({ kind: z.literal('adamw'), ...betas, weightDecay: weightDecay(0.01) }),
  z.strictObject({
    kind: z.literal('sgd'),
    momentum: z.number().min(0).lt(1).default(0),
    nesterov: z.boolean().default(false),
    weightDecay: weightDecay(0),
  }),
  /** Schedule-free AdamW (Defazio et al. 2024); evaluations use its averaged point. */
  z.strictObject({ kind: z.literal('schedule_free_adamw'), ...betas, weightDecay: weightDecay(0) }),
]);

export const trainingSchema = z.strictObject({
  epochs: z.number().int().positive().max(1000).default(1),
  batchSize: z.number().int().positive().max(65_536).default(64),
  /** Evaluate on the held-out split after every `evalEvery` updates, and after the last. */
  evalEvery: z.number().int().positive().default(50),
  /** Clip gradients to this global L2 norm. */
  gradClipNorm: z.number().positive().max(1e6).optional(),
  /** Stochastic weight averaging over this last fraction of training; evaluations use the average. */
  swaFraction: z.number().gt(0).max(1).optional(),
  /** Diverged when the loss exceeds this multiple of the first update's (NaN/Inf always are). */
  divergenceFactor: z.number().gt(1).max(1e12).optional(),
});

/** The most values one grid list may hold. */
export const maxGridValues = 1000;

const gridList = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .min(1, 'the list is empty')
    .max(maxGridValues, `at most ${maxGridValues} values`)
    .superRefine((xs, ctx) => {
      const seen = new Set<string>();
      xs.forEach((x, i) => {
        const key = JSON.stringify(x);
        if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate value ${key}` });
        seen.add(key);
      });
    });

/** The direction a metric improves in: accuracy up, losses down. */
export const naturalMode = (metric: 'val_loss' | 'val_acc' | 'train_loss'): 'min' | 'max' => (metric === 'val_acc' ? 'max' : 'min');

/**
 * The direction to rank `metric` in under a sweep's objective: the objective's own mode for its
 * metric, the metric's natural direction otherwise.
 */
export const modeUnder = (metric: 'val_loss' | 'val_acc' | 'train_loss', objective: { metric: string; mode: 'min' | 'max' }) =>
  metric === objective.metric ? objective.mode : naturalMode(metric);

export const objectiveSchema = z
  .strictObject({
    metric: metricNameSchema.default('val_loss'),
    mode: z.enum(['min', 'max']).optional(),
    /** `final`: at the last evaluation; `best`: the best evaluation; `auc`: the mean over evaluations. */
    aggregate: z.enum(['final', 'best', 'auc']).default('final'),
  })
  .transform((o) => ({ ...o, mode: o.mode ?? naturalMode(o.metric) }));

/**
 * A grid entry of `grid.schedule`: a schedule spec (see SCHEDULES.md) in which any scalar
 * parameter may be a list of values, and `milestones` a list of lists; it expands into one
 * schedule per combination. Validated entry by entry after expansion.
 */
export const gridScheduleSchema = z
  .looseObject({ kind: z.string().describe('a schedule kind of SCHEDULES.md') })
  .describe('A schedule spec; any scalar parameter may be given as a list to sweep over it.');

export const gridSchema = z.strictObject({
  baseLr: gridList(z.number().positive().max(1e3)),
  schedule: gridList(gridScheduleSchema),
  /** A list of seeds, or a count `n` meaning `[0 … n−1]`. */
  seeds: z.union([z.number().int().positive().max(maxGridValues), gridList(z.number().int().min(0).max(2 ** 31 - 1))]).default(1),
});

export const sweepSpecSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  dataset: datasetSchema.default({ name: 'mnist', trainSize: 8000, testSize: 2000 }),
  model: modelSchema.default({ kind: 'mlp', hidden: [128], activation: 'relu' }),
  optimizer: optimizerSchema.default({ kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 }),
  training: trainingSchema.default({ epochs: 1, batchSize: 64, evalEvery: 50 }),
  grid: gridSchema,
  objective: objectiveSchema.default({ metric: 'val_loss', mode: 'min', aggregate: 'final' }),
});

export type SweepSpecInput = z.input<typeof sweepSpecSchema>;
export type SweepSpec = z.output<typeof sweepSpecSchema>;
export type Objective = SweepSpec['objective'];
export type ModelSpec = SweepSpec['model'];
export type OptimizerSpec = SweepSpec['optimizer'];
export type DatasetSpec = SweepSpec['dataset'];
export type TrainingSpec = SweepSpec['training'];
