import * as tf from '@tensorflow/tfjs';
import { type ModelSpec, type OptimizerSpec, type TrainingSpec, TrialError } from '@lrsweep/contract';
import { createSchedule, type ScheduleInput, type Schedule } from '@lrsweep/schedules';
import type { Dataset } from './datasets';
import { createModel, type Model } from './models';
import { evaluateOn, lossOn, metricNames, rowsTensor, samplesIn } from './task';
import { lrMultipliers } from './mup';
import { clipByGlobalNorm, createOptimizer, type Optimizer, type OptimizerState, withSwa } from './optimizers';
import { createRng, type Rng } from './rng';
import { judgeAtRung, type RungEstimate, type RungOptions } from './asha-rung';

export interface TrainConfig {
  model: ModelSpec;
  optimizer: OptimizerSpec;
  /** `totalSteps` (a range test's ramp): the horizon in updates, whatever `epochs` says. */
  training: Pick<TrainingSpec, 'epochs' | 'batchSize' | 'evalEvery' | 'gradClipNorm' | 'swaFraction' | 'totalSteps'>;
  baseLr: number;
  schedule: ScheduleInput;
  seed: number;
  /** The metric a `reduce_on_plateau` schedule observes (its own `metric` wins). */
  plateauMetric?: string;
  /** Diverged when the loss exceeds this multiple of the first update's loss (NaN/Inf always). */
  divergenceFactor?: number;
  /** The backend the spec asks for (`training.backend`); the worker's chooser reads it. */
  backend?: 'auto' | 'wasm' | 'tensorflow';
}

export interface UpdateRecord {
  step: number;
  lr: number;
  trainLoss: number;
}

export interface EvalRecord {
  step: number;
  valLoss: number;
  /** Classification's accuracy (null for regression and text: their second metric is in `metrics`). */
  valAcc: number | null;
  /** Mean training loss over the updates since the previous evaluation. */
  trainLoss: number;
  /**
   * The task's other validation metric (`val_rmse`, `val_ppl`), and after the last update the
   * test split's (`test_loss` and `test_acc`, `test_rmse` or `test_ppl`).
   */
  metrics?: Record<string, number>;
}

/** Running summaries: what the result reports, carried through checkpoints. */
interface Summary {
  firstLoss: number | null;
  windowSum: number;
  windowN: number;
  finalTrainLoss: number | null;
  finalValLoss: number | null;
  bestValLoss: number | null;
  /** The last evaluation's validation metrics by name (val_loss, val_acc or val_rmse or val_ppl). */
  finalMetrics: Record<string, number>;
}

/**
 * Everything needed to continue a trial exactly where it was: after `step` updates, at batch
 * `batchStart` of epoch `epoch` (whose order is `perm`), with the RNG, weights, optimizer state,
 * the evaluations the schedule has observed, and the running summaries.
 */
export interface TrainerState {
  step: number;
  epoch: number;
  batchStart: number;
  perm: Int32Array;
  rngState: number;
  weights: Float32Array[];
  optimizer: OptimizerState;
  observed: [metric: number, step: number][];
  summary: Summary;
}

export interface TrainCallbacks {
  onUpdate?(u: UpdateRecord): void;
  onEval?(e: EvalRecord): void;
  /** Polled after every update; true stops training (cancelled, lost lease, shutdown). */
  shouldStop?(): boolean;
  /** Receives the state every `checkpointEvery` updates, and when training is stopped. */
  onCheckpoint?(state: TrainerState): void;
}

export interface TrainOptions {
  /** The Layers model a `layers` spec names, built from its files (see layers-model.ts). */
  layers?: tf.LayersModel;
  /** Continue from a checkpoint instead of starting afresh. */
  resume?: TrainerState;
  /** Take a checkpoint every this many updates (none when absent). */
  checkpointEvery?: number;
  /** And after exactly these updates (a trunk's fork points: forks.ts), whatever `checkpointEvery` says. */
  checkpointAt?: readonly number[];
  /** An ASHA rung: pause after exactly `step` updates (checkpointed there) and judge the run (asha-rung.ts). */
  rung?: RungOptions;
  /**
   * Adds to `ms` the time spent on the caller's behalf inside the training loop: the callbacks
   * and the checkpoint snapshots (how the worker tells its own cost from training's).
   */
  hostTime?: { ms: number };
}

export interface TrainResult {
  /** `paused`: at an ASHA rung (TrainOptions.rung), checkpointed there; `rung` holds its estimate. */
  status: 'completed' | 'diverged' | 'stopped' | 'paused';
  totalSteps: number;
  stepsDone: number;
  divergedAtStep: number | null;
  /** Mean training loss over the updates since the previous evaluation. */
  finalTrainLoss: number | null;
  finalValLoss: number | null;
  bestValLoss: number | null;
  /** The last evaluation's validation metrics by name. */
  finalMetrics: Record<string, number>;
  /** On the test split, once, after the last update (not for diverged or stopped trials): test_loss and the task's other. */
  test: Record<string, number> | null;
  rung?: RungEstimate;
}

/** `T = epochs × ceil(training samples / batchSize)` (the training split, validation held out). */
export const horizon = (c: Pick<TrainConfig, 'training'>, trainSize: number) =>
  c.training.totalSteps ?? c.training.epochs * Math.ceil(trainSize / c.training.batchSize);

const freshSummary = (): Summary => ({
  firstLoss: null,
  windowSum: 0,
  windowN: 0,
  finalTrainLoss: null,
  finalValLoss: null,
  bestValLoss: null,
  finalMetrics: {},
});

/** A trial being trained: what `train`'s steps share. */
interface Run {
  cfg: TrainConfig;
  data: Dataset;
  T: number;
  schedule: Schedule;
  rng: Rng;
  model: Model;
  opt: Optimizer;
  /** μP's multiple of the schedule's rate per variable (mup.ts); null: the schedule's rate for all. */
  multipliers: number[] | null;
  sum: Summary;
  observed: [number, number][];
  step: number;
  perm: Int32Array | null;
  test: Record<string, number> | null;
  /** Training samples. */
  n: number;
}

/** Builds the model, optimizer and schedule from the seed, and restores a checkpoint over them. */
function setUp(
  cfg: TrainConfig,
  data: Dataset,
  resume: TrainerState | undefined,
  layers: tf.LayersModel | undefined,
): Run {
  const n = samplesIn(data.trainX, data);
  const T = horizon(cfg, n);
  const stepsPerEpoch = Math.ceil(n / cfg.training.batchSize);
  const schedule = createSchedule(cfg.schedule, { baseLr: cfg.baseLr, totalSteps: T, stepsPerEpoch });
  const rng = createRng(cfg.seed);
  const model = createModel(cfg.model, data, rng, layers);
  const plateau = cfg.plateauMetric;
  if (plateau && plateau !== 'train_loss' && !metricNames(data.task).includes(plateau)) {
    model.dispose();
    throw new TrialError(
      'CONFIG_INVALID',
      `reduce_on_plateau watches '${plateau}', which this ${data.task === 'lm' ? 'text' : data.task} task does not report (it reports ${metricNames(data.task).join(', ')}, train_loss)`,
    );
  }
  const base = createOptimizer(cfg.optimizer, model.variables);
  // μP: each parameter's multiple of the schedule's rate (the rate recorded is the schedule's).
  const multipliers = model.parametrization
    ? lrMultipliers(model.parametrization, model.roles, cfg.optimizer.kind)
    : null;
  const swa = cfg.training.swaFraction;
  const opt = swa ? withSwa(base, model.variables, Math.floor((1 - swa) * T)) : base;
  const run: Run = {
    cfg,
    data,
    T,
    schedule,
    rng,
    model,
    opt,
    multipliers,
    sum: freshSummary(),
    observed: [],
    step: 0,
    perm: null,
    test: null,
    n,
  };
  if (resume) {
    const saved = [...model.variables, ...model.state];
    if (resume.weights.length !== saved.length)
      throw new TrialError(
        'CONFIG_INVALID',
        `the checkpoint holds ${resume.weights.length} tensors; the model has ${saved.length}`,
      );
    saved.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(resume.weights[i]!, v.shape))));
    opt.importState(resume.optimizer);
    rng.setState(resume.rngState);
    run.sum = { ...freshSummary(), ...resume.summary };
    run.observed = [...resume.observed];
    run.step = resume.step;
    run.perm = Int32Array.from(resume.perm);
    for (const [metric, at] of run.observed) schedule.observe(metric, at);
  }
  return run;
}

/**
 * The batches still to train, in order: each epoch's order is drawn from the RNG at its start
 * (a resumed run continues mid-epoch in the checkpoint's order); `next` is where the one after
 * starts (the state a checkpoint between the two records).
 */
function* batches(run: Run, batchSize: number, resume: TrainerState | undefined) {
  const n = run.n;
  // A horizon in updates (totalSteps) runs on through epochs until it is reached (train stops it).
  const endless = run.cfg.training.totalSteps !== undefined;
  for (let epoch = resume?.epoch ?? 0; endless || epoch < run.cfg.training.epochs; epoch++) {
    // At an epoch boundary (batchStart 0) the next order is drawn from the restored RNG.
    const resuming = resume !== undefined && epoch === resume.epoch && resume.batchStart > 0;
    if (!resuming) run.perm = run.rng.permutation(n);
    for (let start = resuming ? resume.batchStart : 0; start < n; start += batchSize) {
      const next = start + batchSize < n ? { epoch, start: start + batchSize } : { epoch: epoch + 1, start: 0 };
      yield { start, size: Math.min(batchSize, n - start), next };
    }
  }
}

/** One optimizer update on the batch at `start`, at the schedule's rate (or `rate`): its loss and rate. */
function update(run: Run, start: number, size: number, rate?: number): { loss: number; lr: number } {
  const { data, cfg } = run;
  const d = data.inputDim;
  const t = data.targetDim;
  const xb = data.trainX instanceof Int32Array ? new Int32Array(size * d) : new Float32Array(size * d);
  const yb = data.trainY instanceof Int32Array ? new Int32Array(size * t) : new Float32Array(size * t);
  for (let i = 0; i < size; i++) {
    const k = run.perm![start + i]!;
    xb.set(data.trainX.subarray(k * d, (k + 1) * d), i * d);
    yb.set(data.trainY.subarray(k * t, (k + 1) * t), i * t);
  }
  const lr = rate ?? run.schedule.lrAt(run.step);
  // Dropout masks are drawn from the seed and the update: a resumed run draws the same ones.
  const forward = { training: true, seed: `${cfg.seed}/${run.step}` };
  const lossT = tf.tidy(() => {
    const x = tf.tensor2d(xb, [size, d], xb instanceof Int32Array ? 'int32' : 'float32');
    const y = rowsTensor(run.model, yb, size, t);
    const { value, grads } = tf.variableGrads(
      () => lossOn(run.model, run.model.forward(x, forward), y),
      run.model.variables,
    );
    const clip = cfg.training.gradClipNorm;
    run.opt.apply(
      clip ? clipByGlobalNorm(grads, clip) : grads,
      run.multipliers ? run.multipliers.map((k) => k * lr) : lr,
    );
    return value;
  });
  const loss = lossT.dataSync()[0]!;
  lossT.dispose();
  return { loss, lr };
}

/**
 * Evaluates on the validation split (and, after the last update, once on the test split), updates
 * the summaries, and feeds the schedule the metric it watches.
 */
function evaluateAt(run: Run): EvalRecord {
  const { sum, data } = run;
  // Schedule-free and SWA evaluate a point other than the one trained.
  const restore = run.opt.swapForEval?.();
  const e = evaluateOn(run.model, data.valX, data.valY, data, 'val');
  // Without a validation split (v1) the validation arrays are the test arrays: measured once.
  const test =
    run.step !== run.T
      ? null
      : data.testX === data.valX
        ? renamed(e, 'test')
        : evaluateOn(run.model, data.testX, data.testY, data, 'test');
  restore?.();
  sum.finalTrainLoss = sum.windowSum / sum.windowN;
  sum.windowSum = 0;
  sum.windowN = 0;
  sum.finalValLoss = e.val_loss!;
  sum.bestValLoss = Math.min(sum.bestValLoss ?? Infinity, e.val_loss!);
  sum.finalMetrics = e;
  if (test) run.test = test;
  const watched = run.cfg.plateauMetric ?? 'val_loss';
  const metric = watched === 'train_loss' ? sum.finalTrainLoss : e[watched]!;
  run.schedule.observe(metric, run.step);
  run.observed.push([metric, run.step]);
  const { val_loss: valLoss, val_acc: valAcc, ...other } = e;
  const metrics = { ...other, ...test };
  return {
    step: run.step,
    valLoss: valLoss!,
    valAcc: valAcc ?? null,
    trainLoss: sum.finalTrainLoss,
    ...(Object.keys(metrics).length ? { metrics } : {}),
  };
}

/** The validation metrics of the point a run evaluates (schedule-free and SWA: not the one trained). */
function evaluateForRung(run: Run): Record<string, number> {
  const restore = run.opt.swapForEval?.();
  try {
    return evaluateOn(run.model, run.data.valX, run.data.valY, run.data, 'val');
  } finally {
    restore?.();
  }
}

function snapshot(run: Run, epoch: number, batchStart: number): TrainerState {
  return {
    step: run.step,
    epoch,
    batchStart,
    perm: Int32Array.from(run.perm!),
    rngState: run.rng.state(),
    weights: [...run.model.variables, ...run.model.state].map((v) => Float32Array.from(v.dataSync() as Float32Array)),
    optimizer: run.opt.exportState(),
    observed: [...run.observed],
    summary: { ...run.sum },
  };
}

function resultOf(run: Run, status: TrainResult['status'], divergedAtStep: number | null = null): TrainResult {
  const { sum } = run;
  return {
    status,
    totalSteps: run.T,
    stepsDone: run.step,
    divergedAtStep,
    finalTrainLoss: sum.finalTrainLoss,
    finalValLoss: sum.finalValLoss,
    bestValLoss: sum.bestValLoss,
    finalMetrics: sum.finalMetrics,
    test: run.test,
  };
}

/**
 * Trains one trial: sets the rate from the schedule before every update, evaluates on the
 * validation split after every `evalEvery` updates and after the last (then once on the test
 * split), and stops at the first non-finite (or exploding) loss as diverged. Resumed from a
 * checkpoint it continues exactly as an uninterrupted run would. No tensor outlives the call.
 */
export function train(cfg: TrainConfig, data: Dataset, cb: TrainCallbacks = {}, opts: TrainOptions = {}): TrainResult {
  const hostTime = opts.hostTime;
  /** Runs `f`, counting its time as the caller's (when asked to). */
  const host = <R>(f: () => R): R => {
    if (!hostTime) return f();
    const t0 = performance.now();
    try {
      return f();
    } finally {
      hostTime.ms += performance.now() - t0;
    }
  };
  const run = setUp(cfg, data, opts.resume, opts.layers);
  try {
    const order = batches(run, cfg.training.batchSize, opts.resume);
    for (const { start, size, next } of order) {
      const { loss, lr } = update(run, start, size);
      if (cb.onUpdate) host(() => cb.onUpdate!({ step: run.step, lr, trainLoss: loss }));
      run.sum.firstLoss ??= loss;
      run.step += 1;
      const exploded = cfg.divergenceFactor !== undefined && loss > cfg.divergenceFactor * run.sum.firstLoss;
      if (!Number.isFinite(loss) || exploded) return resultOf(run, 'diverged', run.step - 1);
      run.sum.windowSum += loss;
      run.sum.windowN += 1;
      if (run.step % cfg.training.evalEvery === 0 || run.step === run.T) {
        const row = evaluateAt(run);
        if (cb.onEval) host(() => cb.onEval!(row));
      }
      if (run.step === run.T) return resultOf(run, 'completed');
      if (opts.rung?.step === run.step) {
        if (cb.onCheckpoint) host(() => cb.onCheckpoint!(snapshot(run, next.epoch, next.start)));
        // The trial's result stands at the rung; the estimate's updates are its own.
        const paused = resultOf(run, 'paused');
        const rung = judgeAtRung(opts.rung, {
          lr: run.schedule.lrAt(run.step),
          train: (rate) => {
            const b = order.next();
            if (b.done) return Number.NaN;
            const { loss } = update(run, b.value.start, b.value.size, rate);
            // Dropout masks are drawn per update, as the run would have drawn them.
            run.step += 1;
            // The run's own divergence rule: an exploding cooldown has no estimate.
            return cfg.divergenceFactor !== undefined && loss > cfg.divergenceFactor * run.sum.firstLoss!
              ? Number.NaN
              : loss;
          },
          evaluate: () => evaluateForRung(run),
        });
        return { ...paused, rung };
      }
      const stopping = cb.shouldStop ? host(cb.shouldStop) : false;
      const due =
        (opts.checkpointEvery && run.step % opts.checkpointEvery === 0) || opts.checkpointAt?.includes(run.step);
      if (cb.onCheckpoint && (stopping || due)) {
        host(() => cb.onCheckpoint!(snapshot(run, next.epoch, next.start)));
      }
      if (stopping) return resultOf(run, 'stopped');
    }
    return resultOf(run, 'completed');
  } finally {
    run.opt.dispose();
    run.model.dispose();
  }
}

const renamed = (m: Record<string, number>, split: string) =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k.replace(/^val_/, `${split}_`), v]));

/** The validation split's metrics by name (val_loss and val_acc, val_rmse or val_ppl). */
export const evaluate = (model: Model, data: Dataset) => evaluateOn(model, data.valX, data.valY, data, 'val');
