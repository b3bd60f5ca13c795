import type { ModelSpec } from '@lrsweep/contract';
import * as tf from '@tensorflow/tfjs';
import { TrialError } from '@lrsweep/contract';
import type { Dataset } from './datasets';
import {
  type Activation,
  activate,
  conv,
  dense,
  dropper,
  type ForwardOptions,
  layerNorm,
  Params,
  probed,
  type WeightRole,
} from './layers';
import { type ParamRole, type Parametrization, parametrizationOf } from './mup';
import { layersModel } from './layers-model';
import { gpt, transformerBlocks } from './transformer';
import type { Rng } from './rng';

export type { ForwardOptions, ModelSpec };

/** Image shape [height, width, channels] of the samples (flat models ignore it). */
export type InputShape = [number, number, number];

/** What a model is built for: the dataset's task and sample shapes. */
export type ModelData = Pick<Dataset, 'task' | 'shape' | 'numClasses' | 'targetDim' | 'inputDim'>;

export interface Model {
  /** The trained parameters (what the optimizer updates). */
  variables: tf.Variable[];
  /** What each variable is to μP (mup.ts), in the order of `variables`; absent for a Layers model. */
  roles?: ParamRole[];
  /** How the parameters were made and are to be trained (μP's rate multipliers follow from it). */
  parametrization?: Parametrization;
  /** Other state a checkpoint must keep (a Layers model's batch-norm statistics). */
  state: tf.Variable[];
  /**
   * Predictions for a batch of flat samples `[n, inputDim]` (int32 tokens for the text task):
   * one row per target, `[n · targets per sample, width]`.
   */
  forward(x: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor2D;
  /** What a row holds: logits, or probabilities (a Layers model ending in softmax or sigmoid). */
  outputs: 'logits' | 'probabilities';
  /** The loss the rows are trained with. */
  loss: LossKind;
  /** Values per row: classes (the vocabulary for text), 1 for a sigmoid, targets for regression. */
  width: number;
  /** Multiply-adds ×2 of one sample's forward pass (matrix products and convolutions); null when not known. */
  forwardFlops: number | null;
  dispose(): void;
}

/** A loss over the rows a model predicts: softmax cross-entropy, binary cross-entropy, or squared error. */
export type LossKind = 'softmax' | 'binary' | 'mse';

/** `[h, w]` samples are one-channel images; a model of images refuses any other shape, naming it. */
export function imageShape(shape: readonly number[], kind: string): InputShape {
  if (shape.length === 2) return [shape[0]!, shape[1]!, 1];
  if (shape.length === 3) return shape as InputShape;
  throw new TrialError(
    'CONFIG_INVALID',
    `a ${kind} takes images ([height, width] or [height, width, channels] samples); this dataset's samples are [${shape.join(', ')}]`,
  );
}

/**
 * The model a spec names, its parameters drawn from the seeded RNG. A Layers model comes built
 * (`layers`: read from its files beforehand, see layers-model.ts).
 */
export function createModel(spec: ModelSpec, data: ModelData, rng: Rng, layers?: tf.LayersModel): Model {
  if (spec.kind === 'gpt' || data.task === 'lm') {
    if (spec.kind === 'gpt' && data.task === 'lm')
      return gpt(spec, data.shape[0]!, data.numClasses, new Params(rng, parametrizationOf(spec)));
    if (spec.kind !== 'layers')
      throw new TrialError(
        'CONFIG_INVALID',
        spec.kind === 'gpt'
          ? 'a gpt trains on the text task'
          : `the text task trains a gpt or a layers model, not a ${spec.kind}`,
      );
  }
  if (spec.kind === 'layers') {
    if (!layers) throw new TrialError('MODEL_INVALID', `the model at '${spec.path}' was not loaded`);
    return layersModel(spec, layers, data, rng);
  }
  const regression = data.task === 'regression';
  if (regression && spec.kind !== 'mlp')
    throw new TrialError('CONFIG_INVALID', `a ${spec.kind} classifies; a regression trains an mlp or a layers model`);
  const width = regression ? data.targetDim : data.numClasses;
  const p = new Params(rng, parametrizationOf(spec));
  const built = (() => {
    switch (spec.kind) {
      case 'mlp':
        return mlp(spec, data.inputDim, width, p);
      case 'lenet':
        return lenet(spec, imageShape(data.shape, 'lenet'), width, p);
      case 'cnn':
        return cnn(spec, imageShape(data.shape, 'cnn'), width, p);
      case 'vit':
        return vit(spec, imageShape(data.shape, 'vit'), width, p);
    }
  })();
  return { ...built, loss: regression ? 'mse' : 'softmax', width };
}

type Built = Omit<Model, 'loss' | 'width'>;

const model = (p: Params, forward: Model['forward'], forwardFlops: number): Built => ({
  variables: p.variables,
  roles: p.roles,
  parametrization: p.parametrization,
  state: [],
  forward,
  outputs: 'logits',
  forwardFlops,
  dispose: () => p.dispose(),
});

/** Where layer `i` of `n` runs across the width (μP): in from the data, within it, out to the classes. */
const roleAt = (i: number, n: number): WeightRole =>
  n === 1 ? 'fixed' : i === 0 ? 'input' : i === n - 1 ? 'output' : 'hidden';

/** A multilayer perceptron; dropout after each hidden activation. */
function mlp(spec: Extract<ModelSpec, { kind: 'mlp' }>, inputDim: number, classes: number, p: Params): Built {
  const sizes = [inputDim, ...spec.hidden, classes];
  const n = sizes.length - 1;
  const layers = sizes
    .slice(1)
    .map((out, i) => dense(p, sizes[i]!, out, i + 1 < n ? spec.activation : 'none', roleAt(i, n)));
  const flops = sizes.slice(1).reduce((a, out, i) => a + 2 * sizes[i]! * out, 0);
  return model(
    p,
    (x, opts) => {
      const drop = dropper(spec.dropout ?? 0, opts);
      return layers.reduce(
        (h, layer, i) =>
          i + 1 < layers.length
            ? drop(probed(opts, `hidden${i + 1}`, activate(spec.activation, layer(h)) as tf.Tensor2D))
            : probed(opts, 'output', layer(h)),
        x,
      );
    },
    flops,
  );
}

/** D2L's LeNet: conv 6@5×5 (pad 2), pool, conv 16@5×5, pool, dense 120, 84, classes; 2×2 average (the book's) or max pooling. */
function lenet(spec: Extract<ModelSpec, { kind: 'lenet' }>, [h, w, c]: InputShape, classes: number, p: Params): Built {
  const act: Activation = spec.activation;
  const c1 = conv(p, 5, c, 6, 'same');
  const c2 = conv(p, 5, 6, 16, 'valid');
  const h2 = Math.floor(h / 2) - 4;
  const w2 = Math.floor(w / 2) - 4;
  const flat = Math.floor(h2 / 2) * Math.floor(w2 / 2) * 16;
  const d1 = dense(p, flat, 120, act);
  const d2 = dense(p, 120, 84, act);
  const d3 = dense(p, 84, classes);
  const flops = 2 * (25 * c * 6 * h * w + 25 * 6 * 16 * h2 * w2 + flat * 120 + 120 * 84 + 84 * classes);
  const pool = (spec.pool ?? 'avg') === 'max' ? tf.maxPool : tf.avgPool;
  return model(
    p,
    (x) => {
      let y = tf.reshape(x, [-1, h, w, c]) as tf.Tensor4D;
      y = pool(activate(act, c1(y)) as tf.Tensor4D, 2, 2, 'valid');
      y = pool(activate(act, c2(y)) as tf.Tensor4D, 2, 2, 'valid');
      const f = tf.reshape(y, [-1, flat]) as tf.Tensor2D;
      return d3(activate(act, d2(activate(act, d1(f)) as tf.Tensor2D)) as tf.Tensor2D);
    },
    flops,
  );
}

/**
 * A small CIFAR convnet: per stage two 3×3 convolutions (ReLU, optional batch normalisation over
 * the batch) and a 2×2 max-pool; then global average pooling and a linear classifier.
 */
function cnn(spec: Extract<ModelSpec, { kind: 'cnn' }>, [h, w, c]: InputShape, classes: number, p: Params): Built {
  let cin = c;
  let flops = 0;
  let hh = h;
  let ww = w;
  const stages = spec.channels.map((cout, i) => {
    const a = conv(p, 3, cin, cout, 'same', i === 0 ? 'input' : 'hidden');
    const b = conv(p, 3, cout, cout, 'same');
    const norms = spec.batchNorm
      ? [0, 1].map(() => ({ g: p.constant([cout], 1, 'bn_g'), b: p.constant([cout], 0, 'bn_b') }))
      : null;
    flops += 2 * 9 * (cin * cout + cout * cout) * hh * ww;
    hh = Math.floor(hh / 2);
    ww = Math.floor(ww / 2);
    cin = cout;
    return { a, b, norms };
  });
  const head = dense(p, cin, classes, 'none', 'output');
  flops += 2 * cin * classes;
  const norm = (x: tf.Tensor4D, n: { g: tf.Variable; b: tf.Variable } | undefined) => {
    if (!n) return x;
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.batchNorm(x, mean, variance, n.b, n.g, 1e-5);
  };
  return model(
    p,
    (x, opts) => {
      const drop = dropper(spec.dropout ?? 0, opts);
      let y = tf.reshape(x, [-1, h, w, c]) as tf.Tensor4D;
      stages.forEach((s, i) => {
        y = probed(opts, `stage${i + 1}a`, tf.relu(norm(s.a(y), s.norms?.[0])) as tf.Tensor4D);
        y = probed(opts, `stage${i + 1}b`, tf.relu(norm(s.b(y), s.norms?.[1])) as tf.Tensor4D);
        y = drop(tf.maxPool(y, 2, 2, 'valid'));
      });
      return probed(opts, 'output', head(tf.mean(y, [1, 2]) as tf.Tensor2D));
    },
    flops,
  );
}

/**
 * A small vision transformer. Patches are embedded by reshape + matrix product (no convolution,
 * so it trains on wasm); learned position embeddings; pre-norm blocks of multi-head attention and
 * a GELU MLP (dropout on each residual branch); mean-pooled tokens feed the classifier.
 */
function vit(spec: Extract<ModelSpec, { kind: 'vit' }>, [h, w, c]: InputShape, classes: number, p: Params): Built {
  const { patchSize: ps, width: d, depth, heads, mlpRatio } = spec;
  const gh = h / ps;
  const gw = w / ps;
  const n = gh * gw;
  const pd = ps * ps * c;
  const embed = dense(p, pd, d, 'none', 'input');
  const pos = p.uniform([n, d], 0.02, 'pos');
  const blocks = transformerBlocks(p, { width: d, depth, heads, mlpRatio });
  const lnf = layerNorm(p, d);
  const head = dense(p, d, classes, 'none', 'output');
  const flops = 2 * (n * pd * d + d * classes) + blocks.flops(n);
  return model(
    p,
    (x, opts) => {
      const b = x.shape[0];
      const drop = dropper(spec.dropout ?? 0, opts);
      const patches = tf.reshape(tf.transpose(tf.reshape(x, [b, gh, ps, gw, ps, c]), [0, 1, 3, 2, 4, 5]), [
        b * n,
        pd,
      ]) as tf.Tensor2D;
      const tokens = probed(opts, 'embedding', tf.add(tf.reshape(embed(patches), [b, n, d]), pos) as tf.Tensor3D);
      const t = blocks.apply(drop(tokens), null, drop, opts);
      return probed(opts, 'output', head(tf.mean(lnf(t), 1) as tf.Tensor2D));
    },
    flops,
  );
}
