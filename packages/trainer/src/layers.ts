import * as tf from '@tensorflow/tfjs';
import { fusedGelu, fusedLayerNorm, fusedOpsActive } from './native-ops';
import { type Parametrization, type ParamRole, standard } from './mup';
import type { Rng } from './rng';

/** Variable names are global to TF.js: a counter keeps them unique across the models alive at once. */
let made = 0;

/** The trainable parameters of a model, made from the trial's seeded RNG (same seed, same start). */
export class Params {
  readonly variables: tf.Variable[] = [];
  /** What each variable is to μP (mup.ts): its rate multiplier follows from it. */
  readonly roles: ParamRole[] = [];
  constructor(
    private readonly rng: Rng,
    readonly parametrization: Parametrization = standard,
  ) {}

  get mup(): boolean {
    return this.parametrization.kind === 'mup';
  }

  /** Uniform in ±limit (Glorot or He, as the caller picks the limit). */
  uniform(shape: number[], limit: number, name: string, role: ParamRole = 'vector'): tf.Variable {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: size }, () => (2 * this.rng.next() - 1) * limit);
    // Inside tidy: the initial tensor a variable is made from is released with it.
    const v = tf.tidy(() => tf.variable(tf.tensor(values, shape), true, `${name}_${made++}`));
    return this.add(v, role);
  }

  constant(shape: number[], value: number, name: string, role: ParamRole = 'vector'): tf.Variable {
    return this.add(
      tf.tidy(() => tf.variable(tf.fill(shape, value), true, `${name}_${made++}`)),
      role,
    );
  }

  private add(v: tf.Variable, role: ParamRole) {
    this.variables.push(v);
    this.roles.push(role);
    return v;
  }

  dispose() {
    for (const v of this.variables) v.dispose();
  }
}

export type Activation = 'relu' | 'tanh' | 'gelu' | 'sigmoid';

const GELU_SCALE = 2 * Math.sqrt(2 / Math.PI);

export const activate = (a: Activation, x: tf.Tensor): tf.Tensor => {
  switch (a) {
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'gelu':
      // GELU in its tanh form (Hendrycks & Gimpel; GPT-2, PyTorch's approximate='tanh'), written
      // with the identity ½(1 + tanh z) = σ(2z): x·σ(2√(2/π)(x + 0.044715x³)). Within 1e-3 of the
      // erf form, and on wasm ~8× faster (sigmoid is an XNNPACK kernel; erf and tanh are scalar).
      // On the native CPU backend, one fused kernel computes the same (native-ops.ts).
      return fusedOpsActive() ? fusedGelu(x) : gelu(x);
  }
};

/**
 * GELU with its derivative written out: d/dx x·σ(z) = σ + x·σ(1 − σ)·z′, z′ = c(1 + 3·0.044715·x²)
 * (automatic differentiation of the composed ops takes half again as many kernel calls).
 */
const gelu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const s = tf.sigmoid(tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), 0.044715)), GELU_SCALE));
  save([x, s]);
  return {
    value: tf.mul(x, s),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], [xs, ss]: tf.Tensor[]) => {
      const zPrime = tf.add(tf.mul(tf.square(xs!), GELU_SCALE * 3 * 0.044715), GELU_SCALE);
      return [tf.mul(dy as tf.Tensor, tf.add(ss!, tf.mul(tf.mul(xs!, tf.mul(ss!, tf.sub(1, ss!))), zPrime)))];
    },
  };
}) as (x: tf.Tensor) => tf.Tensor;

/**
 * Which way a weight runs across the width (μP, mup.ts): from a fixed size into it (`input`),
 * within it (`hidden`), out of it to a fixed size (`output`), or neither (`fixed`).
 */
export type WeightRole = 'input' | 'hidden' | 'output' | 'fixed';

/** A bias's role: one per unit of the width, unless its layer ends at a fixed size. */
const biasRole = (role: WeightRole): ParamRole => (role === 'output' || role === 'fixed' ? 'fixed' : 'vector');

/**
 * A fully connected layer: He-uniform for ReLU-like activations, Glorot-uniform otherwise. Under
 * μP the limit is by fan-in alone (variance ∝ 1/fan-in: LeCun-uniform, He for ReLU-like) and the
 * readout starts at zero.
 */
export function dense(
  p: Params,
  fanIn: number,
  fanOut: number,
  act: Activation | 'none' = 'none',
  role: WeightRole = 'hidden',
) {
  const relu = act === 'relu' || act === 'gelu';
  const w =
    p.mup && role === 'output'
      ? p.constant([fanIn, fanOut], 0, 'w', role)
      : p.uniform(
          [fanIn, fanOut],
          relu ? Math.sqrt(6 / fanIn) : p.mup ? Math.sqrt(3 / fanIn) : Math.sqrt(6 / (fanIn + fanOut)),
          'w',
          role,
        );
  const b = p.constant([fanOut], 0, 'b', biasRole(role));
  return (x: tf.Tensor2D) => tf.add(tf.matMul(x, w as tf.Tensor2D), b) as tf.Tensor2D;
}

/** A 2-D convolution (NHWC), He-uniform (fan-in = k·k·cin). */
export function conv(
  p: Params,
  k: number,
  cin: number,
  cout: number,
  pad: 'same' | 'valid',
  role: WeightRole = 'hidden',
) {
  const w = p.uniform([k, k, cin, cout], Math.sqrt(6 / (k * k * cin)), 'k', role);
  const b = p.constant([cout], 0, 'cb', biasRole(role));
  return (x: tf.Tensor4D) => tf.add(tf.conv2d(x, w as tf.Tensor4D, 1, pad), b) as tf.Tensor4D;
}

/** Added to the variance before its square root (PyTorch's default), on both paths. */
const LAYER_NORM_EPSILON = 1e-5;

/**
 * Layer normalisation over the last axis, with a learned scale and shift. Its gradient is written
 * out (dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = dy·γ): automatic differentiation of the
 * composed ops takes about three times as many kernel calls.
 */
export function layerNorm(p: Params, dim: number) {
  const gamma = p.constant([dim], 1, 'ln_g');
  const beta = p.constant([dim], 0, 'ln_b');
  const norm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const xc = tf.sub(x, tf.mean(x, -1, true));
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), LAYER_NORM_EPSILON));
    const xhat = tf.mul(xc, rstd);
    save([xhat, rstd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dys: tf.Tensor | tf.Tensor[], [xh, r, gs]: tf.Tensor[]) => {
        const dy = dys as tf.Tensor;
        const dxhat = tf.mul(dy, gs!);
        const centred = tf.sub(dxhat, tf.mean(dxhat, -1, true));
        const dx = tf.mul(r!, tf.sub(centred, tf.mul(xh!, tf.mean(tf.mul(dxhat, xh!), -1, true))));
        const lead = [...Array(dy.rank - 1).keys()];
        return [dx, tf.sum(tf.mul(dy, xh!), lead), tf.sum(dy, lead)];
      },
    };
  });
  return (x: tf.Tensor) =>
    fusedOpsActive() ? fusedLayerNorm(x, gamma, beta, LAYER_NORM_EPSILON) : norm(x, gamma, beta);
}

/** How a forward pass runs: training (dropout on, its masks drawn from `seed`) or evaluating. */
export interface ForwardOptions {
  training: boolean;
  /** Seeds this pass's dropout masks (the trial's seed and the update: a resumed run draws the same). */
  seed?: string;
  /** Sees each layer's output as it is computed (μP's coordinate check reads their sizes). */
  probe?: (layer: string, x: tf.Tensor) => void;
}

/** `x`, shown to the pass's probe first under `layer`'s name. */
export function probed<T extends tf.Tensor>(opts: ForwardOptions | undefined, layer: string, x: T): T {
  opts?.probe?.(layer, x);
  return x;
}

/**
 * Dropout for one forward pass: each call draws its own mask from the pass's seed and its call
 * count, so masks differ across layers and updates yet repeat exactly on a rerun. Inverted
 * dropout (kept units scaled by 1 / (1 − rate)); the identity when evaluating.
 */
export function dropper(rate: number, opts: ForwardOptions | undefined) {
  let k = 0;
  return <T extends tf.Tensor>(x: T): T => {
    if (!opts?.training || rate <= 0) return x;
    return tf.dropout(x, rate, undefined, `${opts.seed ?? ''}/${k++}`) as T;
  };
}
