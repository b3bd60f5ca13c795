import * as tf from '@tensorflow/tfjs';
import type { ModelSpec, OptimizerSpec, TrainingSpec } from '@lrsweep/contract';
import { createSchedule, type ScheduleInput, type Schedule } from '@lrsweep/schedules';
import type { Dataset } from './datasets';
import { createModel, type Model } from './models';
import { clipByGlobalNorm, createOptimizer, type Optimizer, type OptimizerState, withSwa } from './optimizers';
import { createRng, type Rng } from './rng';

export interface TrainConfig {
  model: ModelSpec;
  optimizer: OptimizerSpec;
  training: Pick<TrainingSpec, 'epochs' | 'batchSize' | 'evalEvery' | 'gradClipNorm' | 'swaFraction'>;
  baseLr: number;
  schedule: ScheduleInput;
  seed: number;
  /** The metric a `reduce_on_plateau` schedule observes (its own `metric` wins). */
  plateauMetric?: string;
  /** Diverged when the loss exceeds this multiple of the first update's loss (NaN/Inf always). */
  divergenceFactor?: number;
}

export interface UpdateRecord {
  step: number;
  lr: number;
  trainLoss: number;
}

export interface EvalRecord {
  step: number;
  valLoss: number;
  valAcc: number;
  /** Mean training loss over the updates since the previous evaluation. */
  trainLoss: number;
  /** The test split's metrics, on the evaluation after the last update only. */
  metrics?: { test_loss: number; test_acc: number };
}

/** Running summaries: what the result reports, carried through checkpoints. */
interface Summary {
  firstLoss: number | null;
  windowSum: number;
  windowN: number;
  finalTrainLoss: number | null;
  finalValLoss: number | null;
  finalValAcc: number | null;
  bestValLoss: number | null;
  bestValAcc: number | null;
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
  /** Continue from a checkpoint instead of starting afresh. */
  resume?: TrainerState;
  /** Take a checkpoint every this many updates (none when absent). */
  checkpointEvery?: number;
  /**
   * Adds to `ms` the time spent on the caller's behalf inside the training loop: the callbacks
   * and the checkpoint snapshots (how the worker tells its own cost from training's).
   */
  hostTime?: { ms: number };
}

export interface TrainResult {
  status: 'completed' | 'diverged' | 'stopped';
  totalSteps: number;
  stepsDone: number;
  divergedAtStep: number | null;
  /** Mean training loss over the updates since the previous evaluation. */
  finalTrainLoss: number | null;
  finalValLoss: number | null;
  finalValAcc: number | null;
  bestValLoss: number | null;
  bestValAcc: number | null;
  /** On the test split, once, after the last update (not for diverged or stopped trials). */
  testLoss: number | null;
  testAcc: number | null;
}

/** `T = epochs × ceil(training samples / batchSize)` (the training split, validation held out). */
export const horizon = (c: Pick<TrainConfig, 'training'>, trainSize: number) => c.training.epochs * Math.ceil(trainSize / c.training.batchSize);

const freshSummary = (): Summary => ({
  firstLoss: null,
  windowSum: 0,
  windowN: 0,
  finalTrainLoss: null,
  finalValLoss: null,
  finalValAcc: null,
  bestValLoss: null,
  bestValAcc: null,
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
  sum: Summary;
  observed: [number, number][];
  step: number;
  perm: Int32Array | null;
  testLoss: number | null;
  testAcc: number | null;
}

/** Builds the model, optimizer and schedule from the seed, and restores a checkpoint over them. */
function setUp(cfg: TrainConfig, data: Dataset, resume: TrainerState | undefined): Run {
  const T = horizon(cfg, data.trainY.length);
  const stepsPerEpoch = Math.ceil(data.trainY.length / cfg.training.batchSize);
  const schedule = createSchedule(cfg.schedule, { baseLr: cfg.baseLr, totalSteps: T, stepsPerEpoch });
  const rng = createRng(cfg.seed);
  const model = createModel(cfg.model, data.shape, data.numClasses, rng);
  const base = createOptimizer(cfg.optimizer, model.variables);
  const swa = cfg.training.swaFraction;
  const opt = swa ? withSwa(base, model.variables, Math.floor((1 - swa) * T)) : base;
  const run: Run = { cfg, data, T, schedule, rng, model, opt, sum: freshSummary(), observed: [], step: 0, perm: null, testLoss: null, testAcc: null };
  if (resume) {
    model.variables.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(resume.weights[i]!, v.shape))));
    opt.importState(resume.optimizer);
    rng.setState(resume.rngState);
    run.sum = { ...resume.summary };
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
  const n = run.data.trainY.length;
  for (let epoch = resume?.epoch ?? 0; epoch < run.cfg.training.epochs; epoch++) {
    // At an epoch boundary (batchStart 0) the next order is drawn from the restored RNG.
    const resuming = resume !== undefined && epoch === resume.epoch && resume.batchStart > 0;
    if (!resuming) run.perm = run.rng.permutation(n);
    for (let start = resuming ? resume.batchStart : 0; start < n; start += batchSize) {
      const next = start + batchSize < n ? { epoch, start: start + batchSize } : { epoch: epoch + 1, start: 0 };
      yield { start, size: Math.min(batchSize, n - start), next };
    }
  }
}

/** One optimizer update on the batch at `start`, at the schedule's rate: its loss and rate. */
function update(run: Run, start: number, size: number): { loss: number; lr: number } {
  const { data, cfg } = run;
  const d = data.inputDim;
  const xb = new Float32Array(size * d);
  const yb = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    const k = run.perm![start + i]!;
    xb.set(data.trainX.subarray(k * d, (k + 1) * d), i * d);
    yb[i] = data.trainY[k]!;
  }
  const lr = run.schedule.lrAt(run.step);
  const lossT = tf.tidy(() => {
    const x = tf.tensor2d(xb, [size, d]);
    const y = tf.oneHot(tf.tensor1d(yb, 'int32'), data.numClasses);
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, run.model.forward(x)) as tf.Scalar);
    const clip = cfg.training.gradClipNorm;
    run.opt.apply(clip ? clipByGlobalNorm(grads, clip) : grads, lr);
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
  const e = evaluateOn(run.model, data.valX, data.valY, data);
  const test = run.step === run.T ? (data.testX === data.valX ? e : evaluateOn(run.model, data.testX, data.testY, data)) : null;
  restore?.();
  sum.finalTrainLoss = sum.windowSum / sum.windowN;
  sum.windowSum = 0;
  sum.windowN = 0;
  sum.finalValLoss = e.loss;
  sum.finalValAcc = e.acc;
  sum.bestValLoss = Math.min(sum.bestValLoss ?? Infinity, e.loss);
  sum.bestValAcc = Math.max(sum.bestValAcc ?? -Infinity, e.acc);
  if (test) {
    run.testLoss = test.loss;
    run.testAcc = test.acc;
  }
  const metric = run.cfg.plateauMetric === 'val_acc' ? e.acc : run.cfg.plateauMetric === 'train_loss' ? sum.finalTrainLoss : e.loss;
  run.schedule.observe(metric, run.step);
  run.observed.push([metric, run.step]);
  return {
    step: run.step,
    valLoss: e.loss,
    valAcc: e.acc,
    trainLoss: sum.finalTrainLoss,
    ...(test ? { metrics: { test_loss: test.loss, test_acc: test.acc } } : {}),
  };
}

function snapshot(run: Run, epoch: number, batchStart: number): TrainerState {
  return {
    step: run.step,
    epoch,
    batchStart,
    perm: Int32Array.from(run.perm!),
    rngState: run.rng.state(),
    weights: run.model.variables.map((v) => Float32Array.from(v.dataSync() as Float32Array)),
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
    finalValAcc: sum.finalValAcc,
    bestValLoss: sum.bestValLoss,
    bestValAcc: sum.bestValAcc,
    testLoss: run.testLoss,
    testAcc: run.testAcc,
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
  const run = setUp(cfg, data, opts.resume);
  try {
    for (const { start, size, next } of batches(run, cfg.training.batchSize, opts.resume)) {
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
      const stopping = cb.shouldStop ? host(cb.shouldStop) : false;
      if (cb.onCheckpoint && (stopping || (opts.checkpointEvery && run.step % opts.checkpointEvery === 0))) {
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

/** Mean cross-entropy and accuracy over some samples, in chunks of 1 000. */
export function evaluateOn(
  model: { forward(x: tf.Tensor2D): tf.Tensor2D },
  xs: Float32Array,
  ys: Int32Array,
  data: Pick<Dataset, 'inputDim' | 'numClasses'>,
): { loss: number; acc: number } {
  const n = ys.length;
  const d = data.inputDim;
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < n; start += 1000) {
    const m = Math.min(1000, n - start);
    const [l, c] = tf.tidy(() => {
      const x = tf.tensor2d(xs.subarray(start * d, (start + m) * d), [m, d]);
      const labels = tf.tensor1d(ys.subarray(start, start + m), 'int32');
      const logits = model.forward(x);
      const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, data.numClasses), logits, undefined, undefined, tf.Reduction.SUM);
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32'));
      return [loss.dataSync()[0]!, hits.dataSync()[0]!];
    });
    lossSum += l;
    correct += c;
  }
  return { loss: lossSum / n, acc: correct / n };
}

/** Mean cross-entropy and accuracy on the validation split. */
export const evaluate = (model: { forward(x: tf.Tensor2D): tf.Tensor2D }, data: Dataset) => {
  const e = evaluateOn(model, data.valX, data.valY, data);
  return { valLoss: e.loss, valAcc: e.acc };
};
