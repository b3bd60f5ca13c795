import {
  type BuiltinSweepSpec,
  isBuiltin,
  type DatasetSpec,
  type ModelSpec,
  modeUnder,
  type Objective,
  type OptimizerSpec,
  type RunnerSpec,
  type SweepSpec,
  type TrainingSpec,
} from '@lrsweep/contract';
import {
  canonicalSchedule,
  type CooldownShape,
  formatPath,
  horizonIssues,
  parseSchedule,
  resolveSchedule,
  type ScheduleSpec,
  type SpecIssue,
} from '@lrsweep/schedules';
import { ashaIssues, ashaTrialConfig } from './asha';
import { canonicalJson, sha256 } from './canonical';
import { expandScheduleEntry, scanScheduleEntry } from './grid-expansion';
import { scalable, scaleModel } from './model-scale';

/** Values of a trainer's own axes (`grid.config`), key → value; absent for sweeps without any. */
export type ConfigValues = Record<string, unknown>;

/** A configuration: base LR × schedule (× grid.config values); its seeds pool in the ranking. */
export interface ConfigPlan {
  configId: string;
  baseLr: number;
  schedule: ScheduleSpec;
  values?: ConfigValues;
  /** Its horizon T, when the sweep has a horizon axis (grid.horizon). */
  horizon?: number;
  /** The schedule as the grid gave it (before its lengths resolved) and the axis values: one schedule across horizons. */
  family?: string;
}

/** What a trial trains: everything a worker or agent needs, with defaults filled in. */
export interface TrialConfig {
  baseLr: number;
  schedule: ScheduleSpec;
  seed: number;
  values?: ConfigValues;
  runner?: RunnerSpec;
  dataset?: DatasetSpec;
  model?: ModelSpec;
  optimizer?: OptimizerSpec;
  training: TrainingSpec;
  /** A range test's trial: it ends `completed` when its loss diverges (that ends the ramp). */
  rangeTest?: true;
  /** Its configuration's horizon, on a horizon axis (training.totalSteps holds it for the trainer). */
  horizon?: number;
  /** A trunk's forks (forks.ts): at each `atStep` it hands the trial `identity` its checkpoint. */
  forks?: { identity: string; atStep: number }[];
  /** An ASHA search's trial (asha.ts): where it pauses to be judged, and how. */
  asha?: AshaTrialConfig;
}

/** What a worker needs to run an ASHA trial: its rungs below T, and how a rung judges it. */
export interface AshaTrialConfig {
  /** The rungs' budgets in updates, below the trial's horizon (which is the last rung). */
  rungs: number[];
  rungMetric: 'annealed' | 'raw';
  cooldown: { fraction: number; shape: CooldownShape };
  /** The validation metric a rung compares (the objective's when it is a val_* one, else val_loss). */
  metric: string;
  mode: 'min' | 'max';
}

/** A built-in trial's config: the parts the TF.js trainer needs are there. */
export type BuiltinTrialConfig = TrialConfig & { dataset: DatasetSpec; model: ModelSpec; optimizer: OptimizerSpec };

export interface TrialPlan {
  identity: string;
  configId: string;
  ordinal: number;
  config: TrialConfig;
  /** Its horizon T (the sweep's, or its configuration's on a horizon axis). */
  totalSteps: number;
  /** A forked cooldown (forks.ts): it waits for its trunk (a trial's identity) to reach `atStep`. */
  fork?: { trunk: string; atStep: number };
}

export interface SweepPlan {
  spec: SweepSpec;
  /** The longest trial's horizon `T` (SWEEP_API.md v1.1; every trial's, without a horizon axis). */
  totalSteps: number;
  /** Updates over all trials (Σ of their horizons). */
  totalUpdates: number;
  seeds: number[];
  configs: ConfigPlan[];
  trialCount: number;
}

export type ExpandResult = { ok: true; plan: SweepPlan } | { ok: false; issues: SpecIssue[] };

/** Updates per epoch `S = ceil((trainSize − validationSize) / batchSize)`; external runners give it. */
export function stepsPerEpochOf(spec: Pick<SweepSpec, 'training' | 'dataset' | 'runner'>): number | undefined {
  if (spec.runner.kind === 'external') return spec.training.stepsPerEpoch;
  const d = spec.dataset!;
  return Math.ceil((d.trainSize - (d.validationSize ?? 0)) / spec.training.batchSize);
}

/** The horizon `T = epochs × S` (built-in) or `training.totalSteps` (external), SWEEP_API.md v1.1. */
export function horizonOf(spec: Pick<SweepSpec, 'training' | 'dataset' | 'runner' | 'search'>): number {
  if (spec.search?.kind === 'range_test') return spec.search.steps;
  if (spec.search?.kind === 'asha' && spec.search.maxBudget !== undefined) return spec.search.maxBudget;
  if (spec.runner.kind === 'external') return spec.training.totalSteps!;
  return spec.training.epochs * stepsPerEpochOf(spec)!;
}

/** `base` with the trainer's axis values and the horizon, each only when given (v1 hashes stay the same). */
const withValues = (base: Record<string, unknown>, values?: ConfigValues, horizon?: number) => {
  const v = values && Object.keys(values).length ? { ...base, values } : base;
  return horizon === undefined ? v : { ...v, horizon };
};

export function configIdOf(baseLr: number, schedule: ScheduleSpec, values?: ConfigValues, horizon?: number): string {
  return sha256(canonicalJson(withValues({ baseLr, schedule: canonicalSchedule(schedule) }, values, horizon))).slice(
    0,
    16,
  );
}

/**
 * A trial's identity: a hash of its sweep and its canonical config (base LR, schedule, seed, and
 * grid.config values only when the sweep has them: v1 identities stay the same).
 */
export function trialIdentity(
  sweepId: string,
  baseLr: number,
  schedule: ScheduleSpec,
  seed: number,
  values?: ConfigValues,
  horizon?: number,
): string {
  return sha256(
    `${sweepId}\n${canonicalJson(withValues({ baseLr, schedule: canonicalSchedule(schedule), seed }, values, horizon))}`,
  );
}

export interface ExpandOptions {
  maxTrials: number;
  /** The longest horizon a trial may have (MAX_TRIAL_STEPS). */
  maxTrialSteps?: number;
}

/**
 * Expands a validated sweep into its configurations, checking what a schema cannot: each
 * expanded schedule, its fit to the horizon, repeats across entries, and the limits.
 */
export function expandSweep(spec: SweepSpec, opts: ExpandOptions): ExpandResult {
  const issues: SpecIssue[] = [];
  const add = (path: PropertyKey[], message: string, sub = '') => {
    const p = joinPath(formatPath(path), sub);
    if (!issues.some((i) => i.path === p && i.message === message)) issues.push({ path: p, message });
  };
  // A horizon axis gives each configuration its own T; without one every trial has the sweep's.
  const horizons: (number | undefined)[] = spec.grid.horizon ?? [undefined];
  const T = Math.max(...horizons.map((h) => h ?? horizonOf(spec)));
  const S = stepsPerEpochOf(spec);
  if (opts.maxTrialSteps !== undefined && T > opts.maxTrialSteps) {
    const at = spec.grid.horizon
      ? ['grid', 'horizon']
      : spec.search?.kind === 'range_test'
        ? ['search', 'steps']
        : spec.search?.kind === 'asha' && spec.search.maxBudget !== undefined
          ? ['search', 'maxBudget']
          : spec.runner.kind === 'external'
            ? ['training', 'totalSteps']
            : ['training', 'epochs'];
    add(at, `a trial of ${T} updates is longer than the limit of ${opts.maxTrialSteps} (MAX_TRIAL_STEPS)`);
  }
  if (isBuiltin(spec)) modelFitsData(spec).forEach((i) => add(i.path, i.message));
  if (isBuiltin(spec) && spec.grid.scale && !scalable(spec.model))
    add(['grid', 'scale'], `a ${spec.model.kind} model has no width to scale (mlp, cnn, vit and gpt do)`);
  const seeds = typeof spec.grid.seeds === 'number' ? [...Array(spec.grid.seeds).keys()] : spec.grid.seeds;
  // grid.scale (built-in) widens the model: each multiplier is a configuration, `values.scale`.
  const valueSets = spec.grid.scale ? spec.grid.scale.map((scale) => ({ scale })) : configValueSets(spec.grid.config);
  const perSchedule = spec.grid.baseLr.length * seeds.length * valueSets.length * horizons.length;
  // Scan before expanding: a grid far over the limit is refused without being built in memory.
  let planned = 0;
  spec.grid.schedule.forEach((entry, i) => {
    const scan = scanScheduleEntry(entry, ['grid', 'schedule', i]);
    scan.issues.forEach((r) => add(r.path, r.message));
    planned += scan.count * perSchedule;
  });
  if (planned > opts.maxTrials)
    add(['grid'], `the grid makes ${planned} trials, more than the limit of ${opts.maxTrials}`);
  if (issues.length > 0) return { ok: false, issues };

  const configs: ConfigPlan[] = [];
  for (const horizon of horizons) {
    // Each schedule is laid out over its own horizon: fractions and epochs resolve against it.
    const H = horizon ?? T;
    const schedules: ScheduleSpec[] = [];
    // Each schedule's variant as the grid wrote it (lengths unresolved): its family across horizons.
    const variants: unknown[] = [];
    const seen = new Map<string, number>();
    spec.grid.schedule.forEach((entry, i) => {
      const at = ['grid', 'schedule', i];
      for (const variant of expandScheduleEntry(entry)) {
        const parsed = parseSchedule(variant);
        // Lengths in fractions and epochs become steps here, once: trials record them resolved.
        const r = parsed.ok ? resolveSchedule(parsed.spec, { horizon: H, ...(S ? { stepsPerEpoch: S } : {}) }) : parsed;
        if (!r.ok) {
          r.issues.forEach((x) => add(at, horizon === undefined ? x.message : `${x.message} (horizon ${H})`, x.path));
          continue;
        }
        const schedule = withObjectiveDefaults(r.spec, spec.objective);
        horizonIssues(schedule, H).forEach((x) =>
          add(at, horizon === undefined ? x.message : `${x.message} (horizon ${H})`, x.path),
        );
        const key = canonicalJson(canonicalSchedule(schedule));
        const prior = seen.get(key);
        if (prior !== undefined) add(at, `repeats a schedule of grid.schedule[${prior}]`);
        else seen.set(key, i);
        if (spec.search?.kind === 'asha')
          ashaIssues(spec.search, schedule, T, spec.runner.kind === 'external').forEach((x) => add(x.path, x.message));
        schedules.push(schedule);
        variants.push(variant);
      }
    });
    schedules.forEach((schedule, k) => {
      for (const baseLr of spec.grid.baseLr) {
        for (const values of valueSets) {
          const family =
            horizon === undefined
              ? undefined
              : sha256(canonicalJson({ schedule: variants[k], ...(values ? { values } : {}) })).slice(0, 16);
          configs.push({
            configId: configIdOf(baseLr, schedule, values, horizon),
            baseLr,
            schedule,
            ...(values ? { values } : {}),
            ...(horizon !== undefined ? { horizon, family } : {}),
          });
        }
      }
    });
  }
  if (issues.length > 0) return { ok: false, issues };
  const totalUpdates = configs.reduce((n, c) => n + (c.horizon ?? T) * seeds.length, 0);
  return {
    ok: true,
    plan: { spec, totalSteps: T, totalUpdates, seeds, configs, trialCount: configs.length * seeds.length },
  };
}

/** Every combination of the grid.config axes (keys in sorted order), or `[undefined]` without any. */
function configValueSets(config: Record<string, unknown[]> | undefined): (ConfigValues | undefined)[] {
  const keys = Object.keys(config ?? {}).sort();
  if (!keys.length) return [undefined];
  let sets: ConfigValues[] = [{}];
  for (const k of keys) sets = sets.flatMap((s) => config![k]!.map((v) => ({ ...s, [k]: v })));
  return sets;
}

/**
 * A `reduce_on_plateau` schedule watches the objective's metric in the objective's direction
 * unless it names its own (then in that metric's own direction).
 */
export function withObjectiveDefaults(s: ScheduleSpec, o: Objective): ScheduleSpec {
  if (s.kind === 'sequential') return { ...s, parts: s.parts.map((p) => withObjectiveDefaults(p, o)) };
  if (s.kind !== 'reduce_on_plateau') return s;
  const metric = s.metric ?? o.metric;
  const mode = s.mode ?? modeUnder(metric, o);
  return { ...s, metric, mode };
}

/** Sample shape [height, width, channels] of each dataset. */
export const imageShapes = {
  mnist: [28, 28, 1],
  'mnist-idx': [28, 28, 1],
  'fashion-mnist': [28, 28, 1],
  cifar10: [32, 32, 3],
  synthetic: [8, 8, 1],
} as const;

/** What a built-in sweep learns: classes, numbers, or the next byte of a text. */
export type Task = 'classification' | 'regression' | 'lm';
export function taskOf(spec: Pick<BuiltinSweepSpec, 'dataset' | 'model'>): Task {
  if (spec.dataset.name === 'text') return 'lm';
  if (spec.dataset.task === 'regression') return 'regression';
  return 'classification';
}

/** The metrics the built-in trainer reports for a task (what an objective may name). */
export const metricsOfTask: Record<Task, string[]> = {
  classification: ['val_loss', 'val_acc', 'train_loss'],
  regression: ['val_loss', 'val_rmse', 'train_loss'],
  lm: ['val_loss', 'val_ppl', 'train_loss'],
};

/**
 * A model that cannot take the dataset: a ViT patch that does not tile, a LeNet on tiny images,
 * a GPT off the text task, a loss of the wrong kind, an objective the task does not report.
 * (Files of the user's own are checked by the workers, which read them.)
 */
function modelFitsData(spec: BuiltinSweepSpec): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  const d = spec.dataset;
  const m = spec.model;
  const task = taskOf(spec);
  if (m.kind === 'gpt' && d.name !== 'text')
    out.push({ path: ['model', 'kind'], message: 'a gpt trains on the text task (dataset.name "text")' });
  if (d.name === 'text' && m.kind !== 'gpt' && m.kind !== 'layers')
    out.push({ path: ['model', 'kind'], message: 'the text task trains a gpt, or a layers model of your own' });
  if (
    m.kind === 'gpt' &&
    m.contextLength !== undefined &&
    d.contextLength !== undefined &&
    m.contextLength !== d.contextLength
  ) {
    out.push({
      path: ['model', 'contextLength'],
      message: `the model's context (${m.contextLength}) differs from the dataset's (${d.contextLength})`,
    });
  }
  if (task === 'regression' && !['mlp', 'layers'].includes(m.kind))
    out.push({
      path: ['model', 'kind'],
      message: `a ${m.kind} classifies; a regression trains an mlp or a layers model`,
    });
  if (m.kind === 'layers') {
    if (d.task === 'regression' && m.loss !== 'mse')
      out.push({ path: ['model', 'loss'], message: 'a regression dataset needs loss mse' });
    if (d.task !== 'regression' && m.loss === 'mse') {
      out.push({
        path: ['model', 'loss'],
        message:
          d.name === 'csv' || d.name === 'npy'
            ? "loss mse is for regression: set dataset.task to 'regression'"
            : `'${d.name}' has class labels: use a cross-entropy loss`,
      });
    }
  }
  if (!metricsOfTask[task].includes(spec.objective.metric)) {
    out.push({
      path: ['objective', 'metric'],
      message: `this ${task === 'lm' ? 'text' : task} task reports ${metricsOfTask[task].join(', ')}, not '${spec.objective.metric}'`,
    });
  }
  const shape = (imageShapes as Record<string, readonly number[]>)[d.name];
  if (!shape) return out;
  const [h, w] = shape as [number, number];
  if (m.kind === 'vit' && (h % m.patchSize || w % m.patchSize)) {
    out.push({
      path: ['model', 'patchSize'],
      message: `a patch of ${m.patchSize} does not tile ${h}×${w} '${d.name}' images`,
    });
  }
  if (m.kind === 'lenet' && (h < 14 || w < 14))
    out.push({ path: ['model', 'kind'], message: `lenet needs images of at least 14×14 ('${d.name}' is ${h}×${w})` });
  if (m.kind === 'cnn' && (h >> m.channels.length < 1 || w >> m.channels.length < 1)) {
    out.push({
      path: ['model', 'channels'],
      message: `${m.channels.length} stages of 2×2 pooling are too many for ${h}×${w} images`,
    });
  }
  return out;
}

/** `grid.schedule[1]` + `warmup.steps` → `grid.schedule[1].warmup.steps`. */
function joinPath(a: string, b: string): string {
  if (!b) return a;
  if (!a) return b;
  return b.startsWith('[') ? a + b : `${a}.${b}`;
}

/** The trials of a plan for one sweep, in grid order (schedule, base LR, config values, seed). */
export function planTrials(plan: SweepPlan, sweepId: string): TrialPlan[] {
  const { runner, dataset, model, optimizer } = plan.spec;
  const { search } = plan.spec;
  const rangeTest = search?.kind === 'range_test';
  // A range test's horizon is its ramp's length, an ASHA search's its maxBudget: the trainer runs
  // that many updates, the data order continuing across epochs.
  const ownHorizon = rangeTest || (search?.kind === 'asha' && search.maxBudget !== undefined);
  const training = ownHorizon ? { ...plan.spec.training, totalSteps: plan.totalSteps } : plan.spec.training;
  const asha = search?.kind === 'asha' ? ashaTrialConfig(search, plan.spec.objective, plan.totalSteps) : undefined;
  const parts = {
    runner,
    training,
    ...(rangeTest ? { rangeTest: true as const } : {}),
    ...(asha ? { asha } : {}),
    ...(dataset ? { dataset } : {}),
    ...(model ? { model } : {}),
    ...(optimizer ? { optimizer } : {}),
  };
  const out: TrialPlan[] = [];
  for (const c of plan.configs) {
    // On a horizon axis the trainer runs the configuration's T updates, whatever epochs says.
    const horizonOwn =
      c.horizon === undefined ? parts : { ...parts, training: { ...parts.training, totalSteps: c.horizon } };
    // On a scale axis the trial trains its configuration's widened model.
    const scale = typeof c.values?.scale === 'number' && plan.spec.grid.scale ? c.values.scale : undefined;
    const own =
      scale !== undefined && model
        ? { ...horizonOwn, model: scaleModel(model, scale, plan.spec.transfer?.baseWidth ?? 1) }
        : horizonOwn;
    for (const seed of plan.seeds) {
      out.push({
        identity: trialIdentity(sweepId, c.baseLr, c.schedule, seed, c.values, c.horizon),
        configId: c.configId,
        ordinal: out.length,
        config: {
          baseLr: c.baseLr,
          schedule: canonicalSchedule(c.schedule),
          seed,
          ...(c.values ? { values: c.values } : {}),
          ...(c.horizon !== undefined ? { horizon: c.horizon } : {}),
          ...own,
        },
        totalSteps: c.horizon ?? plan.totalSteps,
      });
    }
  }
  return out;
}
