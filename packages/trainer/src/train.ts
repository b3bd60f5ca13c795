import * as tf from '@tensorflow/tfjs';
import { createSchedule, type ScheduleInput } from '@lrsweep/schedules';
import type { Dataset } from './datasets';
import { createMlp, type MlpSpec } from './mlp';
import { createOptimizer, type OptimizerSpec } from './optimizers';
import { createRng } from './rng';

export interface TrainConfig {
  model: MlpSpec;
  optimizer: OptimizerSpec;
  training: { epochs: number; batchSize: number; evalEvery: number };
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
}

export interface TrainCallbacks {
  onUpdate?(u: UpdateRecord): void;
  onEval?(e: EvalRecord): void;
  /** Polled after every update; true stops training (cancelled, lost lease, shutdown). */
  shouldStop?(): boolean;
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

/**
 * Trains one trial: sets the rate from the schedule before every update, evaluates on the
 * held-out split after every `evalEvery` updates and after the last, and stops at the first
 * non-finite (or exploding) loss as diverged. No tensor outlives the call.
 */
export function train(cfg: TrainConfig, data: Dataset, cb: TrainCallbacks = {}): TrainResult {
  const nTrain = data.trainY.length;
  const { epochs, batchSize, evalEvery } = cfg.training;
  const T = horizon(cfg, nTrain);
  const schedule = createSchedule(cfg.schedule, { baseLr: cfg.baseLr, totalSteps: T });
  const rng = createRng(cfg.seed);
  const model = createMlp(cfg.model, data.inputDim, data.numClasses, rng);
  const opt = createOptimizer(cfg.optimizer, model.variables);
  const plateauMetric = cfg.plateauMetric ?? 'val_loss';
  const d = data.inputDim;
  const result: TrainResult = {
    status: 'completed',
    totalSteps: T,
    stepsDone: 0,
    divergedAtStep: null,
    finalTrainLoss: null,
    finalValLoss: null,
    finalValAcc: null,
    bestValLoss: null,
    bestValAcc: null,
  };
  let firstLoss: number | null = null;
  let windowSum = 0;
  let windowN = 0;
  try {
    let step = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const perm = rng.permutation(nTrain);
      for (let start = 0; start < nTrain; start += batchSize) {
        const n = Math.min(batchSize, nTrain - start);
        const xb = new Float32Array(n * d);
        const yb = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          const k = perm[start + i]!;
          xb.set(data.trainX.subarray(k * d, (k + 1) * d), i * d);
          yb[i] = data.trainY[k]!;
        }
        const lr = schedule.lrAt(step);
        const lossT = tf.tidy(() => {
          const x = tf.tensor2d(xb, [n, d]);
          const y = tf.oneHot(tf.tensor1d(yb, 'int32'), data.numClasses);
          const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.forward(x)) as tf.Scalar);
          opt.apply(grads, lr);
          return value;
        });
        const loss = lossT.dataSync()[0]!;
        lossT.dispose();
        cb.onUpdate?.({ step, lr, trainLoss: loss });
        firstLoss ??= loss;
        step += 1;
        result.stepsDone = step;
        const exploded = cfg.divergenceFactor !== undefined && loss > cfg.divergenceFactor * firstLoss;
        if (!Number.isFinite(loss) || exploded) {
          result.status = 'diverged';
          result.divergedAtStep = step - 1;
          return result;
        }
        windowSum += loss;
        windowN += 1;
        if (step % evalEvery === 0 || step === T) {
          const e = evaluate(model, data);
          result.finalTrainLoss = windowSum / windowN;
          windowSum = 0;
          windowN = 0;
          result.finalValLoss = e.valLoss;
          result.finalValAcc = e.valAcc;
          result.bestValLoss = Math.min(result.bestValLoss ?? Infinity, e.valLoss);
          result.bestValAcc = Math.max(result.bestValAcc ?? -Infinity, e.valAcc);
          cb.onEval?.({ step, ...e });
          const observed = plateauMetric === 'val_acc' ? e.valAcc : plateauMetric === 'train_loss' ? result.finalTrainLoss : e.valLoss;
          schedule.observe(observed, step);
        }
        if (cb.shouldStop?.()) {
          result.status = 'stopped';
          return result;
        }
      }
    }
    return result;
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
