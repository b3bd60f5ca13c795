import * as tf from '@tensorflow/tfjs';
import type { Dataset, Task } from './datasets';
import type { Model } from './models';

/** Samples in a split's input array. */
export const samplesIn = (x: ArrayLike<number>, data: Pick<Dataset, 'inputDim'>) => x.length / data.inputDim;

/** The second metric each task reports beside its loss: accuracy, RMSE, or perplexity. */
const second: Record<Task, 'acc' | 'rmse' | 'ppl'> = { classification: 'acc', regression: 'rmse', lm: 'ppl' };

/** The validation metrics a task reports (train_loss besides). */
export const metricNames = (task: Task) => ['val_loss', `val_${second[task]}`];

/** A batch's targets as the loss takes them: class indices per row, or a `[n, targets]` matrix for squared error. */
export function rowsTensor(
  model: Pick<Model, 'loss'>,
  y: Int32Array | Float32Array,
  n: number,
  perSample: number,
): tf.Tensor {
  return model.loss === 'mse' ? tf.tensor2d(y, [n, perSample], 'float32') : tf.tensor1d(y, 'int32');
}

/** Keras's clip for losses on probabilities. */
const EPSILON = 1e-7;

/** Per-row losses (for squared error, per value), as Keras computes them for logits or probabilities. */
function lossesOf(model: Pick<Model, 'loss' | 'outputs' | 'width'>, out: tf.Tensor2D, y: tf.Tensor): tf.Tensor {
  if (model.loss === 'mse') return tf.squaredDifference(out, y);
  if (model.loss === 'binary') {
    const t = tf.reshape(tf.cast(y, 'float32'), [-1, 1]);
    if (model.outputs === 'logits')
      return tf.losses.sigmoidCrossEntropy(t, out, undefined, undefined, tf.Reduction.NONE);
    const p = tf.clipByValue(out, EPSILON, 1 - EPSILON);
    return tf.neg(tf.add(tf.mul(t, tf.log(p)), tf.mul(tf.sub(1, t), tf.log(tf.sub(1, p)))));
  }
  const hot = tf.oneHot(y as tf.Tensor1D, model.width);
  if (model.outputs === 'logits')
    return tf.losses.softmaxCrossEntropy(hot, out, undefined, undefined, tf.Reduction.NONE);
  return tf.neg(tf.sum(tf.mul(hot, tf.log(tf.clipByValue(out, EPSILON, 1 - EPSILON))), -1));
}

/** The mean loss of a batch: what an update minimizes. */
export const lossOn = (model: Pick<Model, 'loss' | 'outputs' | 'width'>, out: tf.Tensor2D, y: tf.Tensor) =>
  tf.mean(lossesOf(model, out, y)) as tf.Scalar;

/** Rows predicted right: argmax for softmax, the 0.5 line for a sigmoid. */
function hitsOf(model: Pick<Model, 'loss' | 'outputs'>, out: tf.Tensor2D, y: tf.Tensor): tf.Scalar {
  const predicted =
    model.loss === 'binary'
      ? tf.cast(tf.greater(tf.reshape(out, [-1]), model.outputs === 'logits' ? 0 : 0.5), 'int32')
      : tf.argMax(out, 1);
  return tf.sum(tf.cast(tf.equal(predicted, y), 'int32'));
}

/**
 * A split's metrics, named for it (`val_loss` and `val_acc` | `val_rmse` | `val_ppl`; or `test_…`):
 * mean loss per target (per token for text: nats), and the task's second metric. In chunks that
 * keep the output matrix near a million values.
 */
export function evaluateOn(
  model: Model,
  xs: Float32Array | Int32Array,
  ys: Int32Array | Float32Array,
  data: Pick<Dataset, 'inputDim' | 'targetDim' | 'task'>,
  split: 'val' | 'test',
): Record<string, number> {
  const d = data.inputDim;
  const t = data.targetDim;
  const n = samplesIn(xs, data);
  const chunk = Math.max(1, Math.min(1000, Math.floor(1_000_000 / (t * model.width))));
  let lossSum = 0;
  let hits = 0;
  for (let start = 0; start < n; start += chunk) {
    const m = Math.min(chunk, n - start);
    const [l, h] = tf.tidy(() => {
      const x = tf.tensor2d(
        xs.subarray(start * d, (start + m) * d),
        [m, d],
        xs instanceof Int32Array ? 'int32' : 'float32',
      );
      const y = rowsTensor(model, ys.subarray(start * t, (start + m) * t), m, t);
      const out = model.forward(x);
      return [
        tf.sum(lossesOf(model, out, y)).dataSync()[0]!,
        model.loss === 'mse' ? 0 : hitsOf(model, out, y).dataSync()[0]!,
      ];
    });
    lossSum += l;
    hits += h;
  }
  const loss = lossSum / (n * t);
  const kind = second[data.task];
  const value = kind === 'acc' ? hits / (n * t) : kind === 'rmse' ? Math.sqrt(loss) : Math.exp(loss);
  return { [`${split}_loss`]: loss, [`${split}_${kind}`]: value };
}
