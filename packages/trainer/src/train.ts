import * as tf from '@tensorflow/tfjs';
import { createSchedule, type ScheduleInput } from '@lrsweep/schedules';
import type { Dataset } from './datasets';
import { createModel, type ModelSpec } from './models';
import { clipByGlobalNorm, createOptimizer, type OptimizerSpec, type OptimizerState, withSwa } from './optimizers';
import { createRng } from './rng';

export interface TrainConfig {
  model: ModelSpec;
  optimizer: OptimizerSpec;
  training: {
    epochs: number;
    batchSize: number;
    evalEvery: number;
    /** Clip gradients to this global L2 norm. */
    gradClipNorm?: number;
    /** Stochastic weight averaging over this last fraction of training (evaluations use the average). */
    swaFraction?: number;
  };
  baseLr: number;
  schedule: ScheduleInput;
  seed: number;
  /** The metric a `reduce_on_plateau` schedule observes (its own `metric` wins). */
  plateauMetric?: 'val_loss' | 'val_acc' | 'train_loss';
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
}

export const horizon = (c: Pick<TrainConfig, 'training'>, trainSize: number) =>
  c.training.epochs * Math.ceil(trainSize / c.training.batchSize);

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

/**
 * Trains one trial: sets the rate from the schedule before every update, evaluates on the
 * held-out split after every `evalEvery` updates and after the last, and stops at the first
 * non-finite (or exploding) loss as diverged. Resumed from a checkpoint it continues exactly as
 * an uninterrupted run would. No tensor outlives the call.
 */
export function train(cfg: TrainConfig, data: Dataset, cb: TrainCallbacks = {}, opts: TrainOptions = {}): TrainResult {
  const nTrain = data.trainY.length;
  const { epochs, batchSize, evalEvery } = cfg.training;
  const T = horizon(cfg, nTrain);
  const schedule = createSchedule(cfg.schedule, { baseLr: cfg.baseLr, totalSteps: T });
  const rng = createRng(cfg.seed);
  const model = createModel(cfg.model, data.shape, data.numClasses, rng);
  const base = createOptimizer(cfg.optimizer, model.variables);
  const swa = cfg.training.swaFraction;
  const opt = swa ? withSwa(base, model.variables, Math.floor((1 - swa) * T)) : base;
  const plateauMetric = cfg.plateauMetric ?? 'val_loss';
  const d = data.inputDim;
  const r = opts.resume;
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
  const sum: Summary = r ? { ...r.summary } : freshSummary();
  const observed: [number, number][] = r ? [...r.observed] : [];
  let step = r?.step ?? 0;
  let perm: Int32Array | null = r ? Int32Array.from(r.perm) : null;
  if (r) {
    model.variables.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(r.weights[i]!, v.shape))));
    opt.importState(r.optimizer);
    rng.setState(r.rngState);
    for (const [metric, at] of observed) schedule.observe(metric, at);
  }
  const result = (status: TrainResult['status'], divergedAtStep: number | null = null): TrainResult => ({
    status,
    totalSteps: T,
    stepsDone: step,
    divergedAtStep,
    finalTrainLoss: sum.finalTrainLoss,
    finalValLoss: sum.finalValLoss,
    finalValAcc: sum.finalValAcc,
    bestValLoss: sum.bestValLoss,
    bestValAcc: sum.bestValAcc,
  });
  const snapshot = (epoch: number, batchStart: number): TrainerState => ({
    step,
    epoch,
    batchStart,
    perm: Int32Array.from(perm!),
    rngState: rng.state(),
    weights: model.variables.map((v) => Float32Array.from(v.dataSync() as Float32Array)),
    optimizer: opt.exportState(),
    observed: [...observed],
    summary: { ...sum },
  });
  try {
    for (let epoch = r?.epoch ?? 0; epoch < epochs; epoch++) {
      // At an epoch boundary (batchStart 0) the next order is drawn from the restored RNG.
      const resuming = r !== undefined && epoch === r.epoch && r.batchStart > 0;
      if (!resuming) perm = rng.permutation(nTrain);
      for (let start = resuming ? r.batchStart : 0; start < nTrain; start += batchSize) {
        const n = Math.min(batchSize, nTrain - start);
        const xb = new Float32Array(n * d);
        const yb = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          const k = perm![start + i]!;
          xb.set(data.trainX.subarray(k * d, (k + 1) * d), i * d);
          yb[i] = data.trainY[k]!;
        }
        const lr = schedule.lrAt(step);
        const lossT = tf.tidy(() => {
          const x = tf.tensor2d(xb, [n, d]);
          const y = tf.oneHot(tf.tensor1d(yb, 'int32'), data.numClasses);
          const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.forward(x)) as tf.Scalar);
          const clip = cfg.training.gradClipNorm;
          opt.apply(clip ? clipByGlobalNorm(grads, clip) : grads, lr);
          return value;
        });
        const loss = lossT.dataSync()[0]!;
        lossT.dispose();
        if (cb.onUpdate) host(() => cb.onUpdate!({ step, lr, trainLoss: loss }));
        sum.firstLoss ??= loss;
        step += 1;
        const exploded = cfg.divergenceFactor !== undefined && loss > cfg.divergenceFactor * sum.firstLoss;
        if (!Number.isFinite(loss) || exploded) return result('diverged', step - 1);
        sum.windowSum += loss;
        sum.windowN += 1;
        if (step % evalEvery === 0 || step === T) {
          // Schedule-free and SWA evaluate a point other than the one trained.
          const restore = opt.swapForEval?.();
          const e = evaluate(model, data);
          restore?.();
          sum.finalTrainLoss = sum.windowSum / sum.windowN;
          sum.windowSum = 0;
          sum.windowN = 0;
          sum.finalValLoss = e.valLoss;
          sum.finalValAcc = e.valAcc;
          sum.bestValLoss = Math.min(sum.bestValLoss ?? Infinity, e.valLoss);
          sum.bestValAcc = Math.max(sum.bestValAcc ?? -Infinity, e.valAcc);
          const evalRow = { step, ...e, trainLoss: sum.finalTrainLoss };
          if (cb.onEval) host(() => cb.onEval!(evalRow));
          const metric = plateauMetric === 'val_acc' ? e.valAcc : plateauMetric === 'train_loss' ? sum.finalTrainLoss : e.valLoss;
          schedule.observe(metric, step);
          observed.push([metric, step]);
        }
        if (step === T) return result('completed');
        // The state between this update and the next: the next batch, or the next epoch.
        const next = start + batchSize < nTrain ? { epoch, start: start + batchSize } : { epoch: epoch + 1, start: 0 };
        const stopping = cb.shouldStop ? host(cb.shouldStop) : false;
        if (cb.onCheckpoint && (stopping || (opts.checkpointEvery && step % opts.checkpointEvery === 0))) {
          host(() => cb.onCheckpoint!(snapshot(next.epoch, next.start)));
        }
        if (stopping) return result('stopped');
      }
    }
    return result('completed');
  } finally {
    opt.dispose();
    model.dispose();
  }
}

/** Mean cross-entropy and accuracy on the held-out split, in chunks of 1 000. */
export function evaluate(model: { forward(x: tf.Tensor2D): tf.Tensor2D }, data: Dataset): { valLoss: number; valAcc: number } {
  const n = data.testY.length;
  const d = data.inputDim;
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < n; start += 1000) {
    const m = Math.min(1000, n - start);
    const [l, c] = tf.tidy(() => {
      const x = tf.tensor2d(data.testX.subarray(start * d, (start + m) * d), [m, d]);
      const labels = tf.tensor1d(data.testY.subarray(start, start + m), 'int32');
      const logits = model.forward(x);
      const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, data.numClasses), logits, undefined, undefined, tf.Reduction.SUM);
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32'));
      return [loss.dataSync()[0]!, hits.dataSync()[0]!];
    });
    lossSum += l;
    correct += c;
  }
  return { valLoss: lossSum / n, valAcc: correct / n };
}
