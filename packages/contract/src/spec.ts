/**
 * The sweep spec (SWEEP_API.md v1 and v1.1): what `POST /v1/sweeps` takes. The API validates
 * with these schemas and generates its OpenAPI description from them; the CLI checks specs with
 * them before sending; the worker and trainer types derive from them.
 */
import { z } from 'zod';
import { defaultPool, poolNameSchema, sweepPriorityRange } from './jobs';
import { aggregateSchema, builtinMetrics, naturalModeOf, selectionMetricSchema } from './metrics';
import { datasetSchema, rootedPathSchema } from './dataset-spec';
import { type SearchSpec, searchSchema } from './search';
import { type TransferSpec, transferSpecSchema, transferWidthAxis } from './transfer';

export * from './dataset-spec';

/** Optional, absent meaning none: a spec without it keeps its v1 identity. */
const dropout = z
  .number()
  .min(0)
  .max(0.9)
  .optional()
  .meta({ description: 'dropout rate while training (default 0: none)' });

/**
 * μP (#28; Yang et al. 2022, arXiv 2203.03466) for the models with a width. Absent is the standard
 * parametrization, so a spec without it keeps its identity.
 */
const parametrization = {
  parametrization: z.enum(['standard', 'mup']).optional().meta({
    description:
      "'mup': μP's initialisation and per-layer learning rates (the base LR tuned at one width carries to others); default 'standard'",
  }),
  widthMultiplier: z.number().positive().max(4096).optional().meta({
    description:
      "under mup: this model's width over the base width its LR was tuned at (default 1; on a grid.scale axis each trial's is scale / transfer.baseWidth)",
  }),
};

/** A transformer's shape (vit, gpt): `mlpRatio` defaults differ (ViT 2, GPT 4). */
const transformer = (mlpRatio: number) => ({
  width: z.number().int().positive().max(1024).default(64),
  depth: z.number().int().positive().max(24).default(2),
  heads: z.number().int().positive().max(16).default(4),
  mlpRatio: z.number().int().positive().max(8).default(mlpRatio),
});
const headsDivideWidth = (m: { width: number; heads: number }, ctx: z.RefinementCtx) => {
  if (m.width % m.heads !== 0)
    ctx.addIssue({ code: 'custom', path: ['heads'], message: `width ${m.width} is not divisible by ${m.heads} heads` });
};

export const modelSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('mlp'),
    hidden: z.array(z.number().int().positive().max(8192)).max(16).default([128]),
    /** `gelu` is GELU's tanh form (as GPT-2's and PyTorch's approximate='tanh'). */
    activation: z
      .enum(['relu', 'tanh', 'gelu'])
      .default('relu')
      .meta({ description: "relu, tanh, or gelu (GELU's tanh form, as PyTorch's approximate='tanh')" }),
    dropout,
    ...parametrization,
  }),
  /** D2L's LeNet (sigmoid and average pooling, as in the book; relu and max pooling optional). */
  z.strictObject({
    kind: z.literal('lenet'),
    activation: z.enum(['sigmoid', 'relu']).default('sigmoid'),
    pool: z
      .enum(['avg', 'max'])
      .optional()
      .meta({ description: "2×2 pooling: 'avg' (the book's, the default) or 'max'" }),
  }),
  /** A small convnet: two 3×3 convolutions and a max-pool per stage, global average pooling. */
  z.strictObject({
    kind: z.literal('cnn'),
    channels: z.array(z.number().int().positive().max(512)).min(1).max(5).default([32, 64]),
    batchNorm: z.boolean().default(false),
    dropout,
    ...parametrization,
  }),
  /** A vision transformer: patch embedding by reshape + matmul, pre-norm blocks. */
  z
    .strictObject({
      kind: z.literal('vit'),
      patchSize: z.number().int().positive().max(32).default(4),
      ...transformer(2),
      dropout,
      ...parametrization,
    })
    .superRefine(headsDivideWidth),
  /** A small decoder-only transformer for the text task: causal attention, learned positions, pre-norm. */
  z
    .strictObject({
      kind: z.literal('gpt'),
      ...transformer(4),
      /** Default: the dataset's. */
      contextLength: z.number().int().min(2).max(4096).optional(),
      dropout,
      ...parametrization,
    })
    .superRefine(headsDivideWidth),
  /**
   * A TF.js Layers model of the user's own (what tensorflowjs_converter writes from Keras, or
   * `model.save('file://…')`): `path` is its model.json, relative to the workers' MODEL_ROOT.
   */
  z.strictObject({
    kind: z.literal('layers'),
    path: rootedPathSchema.meta({ description: "the model.json, relative to the workers' MODEL_ROOT" }),
    loss: z.enum(['sparse_categorical_crossentropy', 'categorical_crossentropy', 'binary_crossentropy', 'mse']),
    /** `initial`: re-initialized per seed from the layers' initializers; `pretrained`: the file's weights. */
    weights: z.enum(['initial', 'pretrained']).default('initial'),
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

/**
 * The default divergence factor: a loss ten times its first update's. At initialization the loss
 * is near its worst (ln 10 ≈ 2.3 for ten classes); a run that climbs an order of magnitude above
 * it has lost what it learned (Adam at LR 30 on MNIST reaches 10⁶ on its second update), while
 * healthy runs, warmup-less spikes included, stay well below it.
 */
export const defaultDivergenceFactor = 10;

export const trainingSchema = z.strictObject({
  /**
   * The built-in workers' TF.js backend for this sweep: `auto` (default: the native backend when
   * the worker has it, unless a quick probe finds wasm faster for the model), `wasm` or `tensorflow`.
   */
  backend: z
    .enum(['auto', 'wasm', 'tensorflow'])
    .optional()
    .meta({ description: "built-in workers' backend: auto (probe per model), wasm or tensorflow" }),
  epochs: z.number().int().positive().max(1000).default(1),
  batchSize: z.number().int().positive().max(65_536).default(64),
  /** Evaluate on the validation split after every `evalEvery` updates, and after the last. */
  evalEvery: z.number().int().positive().default(50),
  /** External runners: the horizon T (required there). */
  totalSteps: z.number().int().positive().optional().meta({
    description:
      'external runners: the horizon T in updates (required there, unless grid.horizon or a range test gives it)',
  }),
  /** External runners: updates per epoch, for schedule lengths given in epochs. */
  stepsPerEpoch: z
    .number()
    .int()
    .positive()
    .optional()
    .meta({ description: 'external runners: updates per epoch (for lengths in epochs)' }),
  /** Clip gradients to this global L2 norm. */
  gradClipNorm: z.number().positive().max(1e6).optional(),
  /** Stochastic weight averaging over this last fraction of training; evaluations use the average. */
  swaFraction: z.number().gt(0).max(1).optional(),
  /**
   * Diverged when the training loss exceeds this multiple of the first update's (NaN/Inf always
   * are); absent: `defaultDivergenceFactor`; `false` turns the factor off (NaN/Inf still count).
   */
  divergenceFactor: z
    .union([z.number().gt(1).max(1e12), z.literal(false)])
    .optional()
    .meta({
      description: `diverged when the training loss exceeds this multiple of the first update's (default ${defaultDivergenceFactor}; false: only NaN/Inf)`,
    }),
});

/** The most values one grid list may hold. */
export const maxGridValues = 1000;

/** A grid list: 1 … 1 000 values, none repeated (each problem with its index). */
export const gridList = <T extends z.ZodType>(item: T) =>
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

export const objectiveSchema = z
  .strictObject({
    metric: selectionMetricSchema.default('val_loss'),
    mode: z.enum(['min', 'max']).optional(),
    /** `final`: at the last evaluation; `best`: the best evaluation; `auc`: the mean over evaluations. */
    aggregate: aggregateSchema.default('final'),
  })
  .superRefine((o, ctx) => {
    if (o.mode === undefined && naturalModeOf(o.metric) === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['mode'],
        message: `say whether '${o.metric}' is better low or high (mode: min or max)`,
      });
    }
  })
  .transform((o) => ({ ...o, mode: o.mode ?? naturalModeOf(o.metric) ?? 'min' }));

/**
 * A grid entry of `grid.schedule`: a schedule spec (see SCHEDULES.md) in which any scalar
 * parameter may be a list of values, and `milestones` a list of lists; it expands into one
 * schedule per combination. Validated entry by entry after expansion.
 */
export const gridScheduleSchema = z
  .looseObject({ kind: z.string().describe('a schedule kind of SCHEDULES.md') })
  .describe('A schedule spec; any scalar parameter may be given as a list to sweep over it.');

/** A value of a trainer's own axis (`grid.config`): any JSON scalar. */
const configValue = z.union([z.number(), z.string().max(1000), z.boolean(), z.null()]);
export const configKeySchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'a config key is a letter or _ then up to 63 letters, digits, _ . -');

export const gridSchema = z.strictObject({
  baseLr: gridList(z.number().positive().max(1e3)),
  schedule: gridList(gridScheduleSchema),
  /** A list of seeds, or a count `n` meaning `[0 … n−1]`. */
  seeds: z
    .union([
      z.number().int().positive().max(maxGridValues),
      gridList(
        z
          .number()
          .int()
          .min(0)
          .max(2 ** 31 - 1),
      ),
    ])
    .default(1),
  /**
   * Horizons in updates (SWEEP_API.md v1.1): each value sets a trial's `T`, overriding `epochs`,
   * the data order continuing across epoch boundaries; every schedule is laid out over its own
   * horizon. An external trainer's trials take theirs from it (no training.totalSteps then).
   */
  horizon: gridList(z.number().int().positive().max(10_000_000)).optional().meta({
    description:
      "horizons T in updates: each overrides epochs (the data order runs on across epochs); a schedule's lengths resolve against its trial's horizon",
  }),
  /**
   * Built-in runners: width multipliers of the model (mlp hidden sizes, cnn channels, a
   * transformer's width and heads), one configuration each: where a transfer study's scale lives.
   */
  scale: gridList(
    z
      .number()
      .min(1 / 64)
      .max(64),
  )
    .optional()
    .meta({
      description:
        "built-in models: width multipliers (mlp hidden, cnn channels, vit/gpt width; heads grow to 16, then the head size); a transfer study's width axis",
    }),
  /** External runners: axes of the trainer's own (weight decay, width …), expanded like the others. */
  config: z
    .record(configKeySchema, gridList(configValue))
    .optional()
    .meta({ description: "external runners: axes of the trainer's own, key → values; they expand like the others" }),
});

/** The grid as a spec may give it: a range test leaves out baseLr and schedule (the ramp is both). */
const gridInputSchema = gridSchema.extend({
  baseLr: gridSchema.shape.baseLr.optional(),
  schedule: gridSchema.shape.schedule.optional(),
});

export const runnerSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('builtin'), pool: poolNameSchema.default(defaultPool) }),
  z.strictObject({
    kind: z.literal('external'),
    pool: poolNameSchema,
    /** Free JSON for the trainer, merged with each trial's `grid.config` values. */
    config: z.record(z.string(), z.unknown()).default({}),
  }),
]);
export type RunnerSpec = z.output<typeof runnerSchema>;

export type DatasetSpec = z.output<typeof datasetSchema>;
export type ModelSpec = z.output<typeof modelSchema>;
export type OptimizerSpec = z.output<typeof optimizerSchema>;
export type TrainingSpec = z.output<typeof trainingSchema>;
export type GridSpec = z.output<typeof gridSchema>;
export type Objective = z.output<typeof objectiveSchema>;

interface SpecCommon {
  name: string;
  /** A transfer study: which axes hold the scale (width, length) and the run to carry η* to. */
  transfer?: TransferSpec;
  /** Absent: a grid search. */
  search?: SearchSpec;
  /** Higher runs first (−10 … 10; none: 0). */
  priority?: number;
  /** At most this many of the sweep's trials run at once (none: no limit). */
  maxParallel?: number;
  training: TrainingSpec;
  grid: GridSpec;
  objective: Objective;
}
/** A sweep for the built-in TF.js workers: dataset, model and optimizer filled with defaults. */
export interface BuiltinSweepSpec extends SpecCommon {
  runner: Extract<RunnerSpec, { kind: 'builtin' }>;
  dataset: DatasetSpec;
  model: ModelSpec;
  optimizer: OptimizerSpec;
}
/** A sweep for external agents: the trainer owns the model and data (given parts pass through). */
export interface ExternalSweepSpec extends SpecCommon {
  runner: Extract<RunnerSpec, { kind: 'external' }>;
  dataset?: DatasetSpec;
  model?: ModelSpec;
  optimizer?: OptimizerSpec;
}
export type SweepSpec = BuiltinSweepSpec | ExternalSweepSpec;

const defaults = {
  dataset: { name: 'mnist', trainSize: 8000, testSize: 2000 },
  model: { kind: 'mlp', hidden: [128], activation: 'relu' },
  optimizer: { kind: 'adam' },
} as const;

/**
 * A transfer block names axes that exist and hold what a scale needs: the width axis a grid.config
 * axis of positive numbers (an external trainer's own), the length axis grid.horizon; a target
 * only for a marked axis.
 */
function checkTransfer(
  t: TransferSpec,
  s: { runner: { kind: string }; grid: { config?: Record<string, unknown[]>; horizon?: number[]; scale?: number[] } },
  issue: (path: PropertyKey[], message: string) => void,
) {
  if (!t.width && !t.length)
    issue(['transfer'], 'name the axis that holds the scale: transfer.width.from and/or transfer.length.from');
  if (t.width) {
    const from = t.width.from;
    const key = transferWidthAxis.exec(from)?.[1];
    if (from === 'grid.scale') {
      if (s.grid.scale === undefined) issue(['transfer', 'width', 'from'], 'this sweep has no grid.scale axis');
      else if (new Set(s.grid.scale).size < 2)
        issue(['grid', 'scale'], 'a width axis needs at least 2 scales to say how η* moves (3 for a fitted law)');
    } else if (key === undefined)
      issue(['transfer', 'width', 'from'], `'${from}' is not an axis: use grid.scale or grid.config.<key>`);
    else if (s.runner.kind !== 'external')
      issue(
        ['transfer', 'width', 'from'],
        'grid.config axes are an external trainer’s own: the built-in trainer has none',
      );
    else {
      const values = s.grid.config?.[key];
      if (values === undefined) issue(['transfer', 'width', 'from'], `grid.config has no axis '${key}'`);
      else if (!values.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0))
        issue(['grid', 'config', key], `the width axis must hold positive numbers (transfer.width.from marks it)`);
      else if (new Set(values).size < 2)
        issue(['grid', 'config', key], 'a width axis needs at least 2 widths to say how η* moves (3 for a fitted law)');
    }
  }
  if (t.length && s.grid.horizon === undefined)
    issue(['transfer', 'length', 'from'], 'the length axis is grid.horizon, and this sweep has none');
  else if (t.length && new Set(s.grid.horizon).size < 2)
    issue(['grid', 'horizon'], 'a length axis needs at least 2 horizons');
  if (t.target?.width !== undefined && !t.width)
    issue(['transfer', 'target', 'width'], 'a target width needs a width axis (transfer.width)');
  if (t.target?.steps !== undefined && !t.length)
    issue(['transfer', 'target', 'steps'], 'a target length needs a length axis (transfer.length)');
  if (t.baseWidth !== undefined && !t.width)
    issue(['transfer', 'baseWidth'], 'baseWidth measures widths: it needs a width axis (transfer.width)');
}

/** μP's fields agree with each other, the optimizer, the scale axis and the transfer block. */
function checkParametrization(
  s: {
    runner: { kind: string };
    model?: ModelSpec;
    optimizer?: OptimizerSpec;
    grid: { scale?: number[] };
    transfer?: TransferSpec;
  },
  issue: (path: PropertyKey[], message: string) => void,
) {
  const m = s.model?.kind === 'lenet' || s.model?.kind === 'layers' ? undefined : s.model;
  const mup = m?.parametrization === 'mup';
  if (mup && s.optimizer?.kind === 'schedule_free_adamw')
    issue(
      ['optimizer', 'kind'],
      "μP has no per-layer rates for schedule-free AdamW: use adam, adamw or sgd under model.parametrization 'mup'",
    );
  if (m?.widthMultiplier !== undefined && !mup)
    issue(['model', 'widthMultiplier'], "widthMultiplier is μP's: it needs model.parametrization 'mup'");
  else if (m?.widthMultiplier !== undefined && s.grid.scale !== undefined)
    issue(
      ['model', 'widthMultiplier'],
      'grid.scale sets each trial’s multiplier (scale / transfer.baseWidth): leave model.widthMultiplier out',
    );
  const declared = s.transfer?.parametrization;
  if (s.runner.kind === 'builtin' && declared !== undefined && declared !== (mup ? 'mup' : 'standard'))
    issue(
      ['transfer', 'parametrization'],
      mup
        ? "the model trains under μP (model.parametrization 'mup'): leave transfer.parametrization out or say 'mup'"
        : "the built-in models train under μP only with model.parametrization 'mup' (mlp, cnn, vit, gpt)",
    );
}

export const sweepSpecSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    runner: runnerSchema.default({ kind: 'builtin', pool: defaultPool }),
    priority: z.number().int().min(sweepPriorityRange.min).max(sweepPriorityRange.max).optional().meta({
      description:
        'higher runs first, among the sweeps of a pool (−10 … 10; none: 0); equal priorities share the pool turn by turn',
    }),
    maxParallel: z.number().int().positive().max(100_000).optional().meta({
      description: "at most this many of the sweep's trials run at once (none: as many as there are free slots)",
    }),
    search: searchSchema.optional(),
    dataset: datasetSchema.optional(),
    model: modelSchema.optional(),
    optimizer: optimizerSchema.optional(),
    training: trainingSchema.default({ epochs: 1, batchSize: 64, evalEvery: 50 }),
    grid: gridInputSchema,
    objective: objectiveSchema.default({ metric: 'val_loss', mode: 'min', aggregate: 'final' }),
    transfer: transferSpecSchema.optional(),
  })
  .superRefine((s, ctx) => {
    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (s.transfer) checkTransfer(s.transfer, s, issue);
    checkParametrization(s, issue);
    if (s.grid.scale !== undefined && s.runner.kind === 'external')
      issue(
        ['grid', 'scale'],
        "grid.scale multiplies a built-in model's width; an external trainer sweeps its own width as a grid.config axis",
      );
    if (s.grid.horizon !== undefined && s.runner.kind === 'external' && s.training.totalSteps !== undefined)
      issue(
        ['training', 'totalSteps'],
        'grid.horizon gives each trial its horizon: leave training.totalSteps out (or the horizon axis)',
      );
    if (s.grid.horizon !== undefined && s.search?.kind === 'range_test')
      issue(['grid', 'horizon'], 'a range test has one horizon: search.steps');
    if (s.search?.kind === 'asha') {
      const a = s.search;
      if (s.runner.kind === 'external' && a.maxBudget !== undefined && s.training.totalSteps !== undefined)
        issue(
          ['training', 'totalSteps'],
          `search.maxBudget (${a.maxBudget}) is the horizon of the trials that reach the last rung: leave training.totalSteps out (or maxBudget)`,
        );
      if (s.grid.horizon !== undefined)
        issue(
          ['grid', 'horizon'],
          'ASHA sets the budgets itself (search.minBudget … search.maxBudget): leave grid.horizon out',
        );
      if (a.maxBudget !== undefined && a.minBudget >= a.maxBudget)
        issue(['search', 'minBudget'], `minBudget must be below maxBudget (${a.maxBudget})`);
    }
    if (s.search?.kind === 'range_test') {
      const r = s.search;
      if (s.runner.kind === 'external' && s.training.totalSteps !== undefined)
        issue(
          ['training', 'totalSteps'],
          `a range test's horizon is its ramp, search.steps (${r.steps}): leave training.totalSteps out`,
        );
      if (s.grid.baseLr !== undefined)
        issue(
          ['grid', 'baseLr'],
          `a range test sweeps the learning rate itself, from search.minLr to search.maxLr: leave grid.baseLr out`,
        );
      if (s.grid.schedule !== undefined)
        issue(['grid', 'schedule'], 'a range test ramps the rate itself (lr_range): leave grid.schedule out');
      if (r.minLr >= r.maxLr) issue(['search', 'maxLr'], `maxLr must be above minLr (${r.minLr})`);
    } else {
      if (s.grid.baseLr === undefined)
        issue(
          ['grid', 'baseLr'],
          'required: the base learning rates to sweep (or search: { kind: "range_test" } to find them)',
        );
      if (s.grid.schedule === undefined) issue(['grid', 'schedule'], 'required: the schedules to sweep');
    }
    if (s.runner.kind === 'builtin') {
      if (s.training.totalSteps !== undefined)
        issue(
          ['training', 'totalSteps'],
          'the built-in trainer takes its horizon from epochs (totalSteps is for external runners)',
        );
      if (s.training.stepsPerEpoch !== undefined)
        issue(['training', 'stepsPerEpoch'], 'the built-in trainer derives its updates per epoch from the dataset');
      if (s.grid.config !== undefined)
        issue(
          ['grid', 'config'],
          "grid.config sweeps an external trainer's own settings; the built-in trainer has none",
        );
      if (!(builtinMetrics as readonly string[]).includes(s.objective.metric)) {
        issue(
          ['objective', 'metric'],
          `the built-in trainer reports ${builtinMetrics.join(', ')}, not '${s.objective.metric}'`,
        );
      }
    } else if (
      s.training.totalSteps === undefined &&
      s.search?.kind !== 'range_test' &&
      !(s.search?.kind === 'asha' && s.search.maxBudget !== undefined) &&
      s.grid.horizon === undefined
    ) {
      issue(['training', 'totalSteps'], 'an external runner needs the horizon: training.totalSteps');
    }
  })
  .transform((s): SweepSpec => {
    // A range test's grid: the ramp at maxLr, starting minLr/maxLr below it (the horizon is search.steps).
    const grid =
      s.search?.kind === 'range_test'
        ? {
            ...s.grid,
            baseLr: [s.search.maxLr],
            schedule: [{ kind: 'lr_range' as const, startFactor: s.search.minLr / s.search.maxLr }],
          }
        : (s.grid as GridSpec);
    if (s.runner.kind === 'external') return { ...s, grid } as ExternalSweepSpec;
    return {
      ...s,
      grid: grid as GridSpec,
      runner: s.runner,
      dataset: s.dataset ?? datasetSchema.parse(defaults.dataset),
      model: s.model ?? modelSchema.parse(defaults.model),
      optimizer: s.optimizer ?? optimizerSchema.parse(defaults.optimizer),
    };
  });

export type SweepSpecInput = z.input<typeof sweepSpecSchema>;

/**
 * Which split a sweep selects on: `validation` (v1.1's default), `test` (validationSize 0, and
 * every sweep stored before v1.1), or `trainer` (external runners: the trainer's own split).
 */
export type SelectedOn = 'validation' | 'test' | 'trainer';
export function selectedOnOf(spec: { runner?: { kind: string }; dataset?: { validationSize?: number } }): SelectedOn {
  if (spec.runner?.kind === 'external') return 'trainer';
  return storedValidationSize(spec.dataset) > 0 ? 'validation' : 'test';
}

/** A stored spec's validation size: sweeps stored before v1.1 have none, and read as 0. */
export const storedValidationSize = (d: { validationSize?: number } | undefined) => d?.validationSize ?? 0;

/** Whether a sweep runs on the built-in TF.js workers (its dataset, model and optimizer are filled in). */
export const isBuiltin = (spec: SweepSpec): spec is BuiltinSweepSpec => spec.runner.kind === 'builtin';
