import * as tf from '@tensorflow/tfjs';
import type { Rng } from './rng';

export interface MlpSpec {
  kind: 'mlp';
  hidden: number[];
  activation: 'relu' | 'tanh' | 'gelu';
}

export interface Model {
  variables: tf.Variable[];
  /** Logits for a batch `[n, inputDim]`. */
  forward(x: tf.Tensor2D): tf.Tensor2D;
  dispose(): void;
}

const activations = {
  relu: (x: tf.Tensor2D) => tf.relu(x),
  tanh: (x: tf.Tensor2D) => tf.tanh(x),
  gelu: (x: tf.Tensor2D) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))) as tf.Tensor2D,
};

/**
 * A multi-layer perceptron. Weights start from the trial's seeded RNG (He-uniform for ReLU-like
 * activations, Glorot-uniform for tanh, as PyTorch and Keras do), biases at zero, so the same
 * seed gives the same initial point on every backend.
 */
export function createMlp(spec: MlpSpec, inputDim: number, numClasses: number, rng: Rng): Model {
  const sizes = [inputDim, ...spec.hidden, numClasses];
  const layers: { w: tf.Variable; b: tf.Variable }[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const fanIn = sizes[i]!;
    const fanOut = sizes[i + 1]!;
    const limit = spec.activation === 'tanh' ? Math.sqrt(6 / (fanIn + fanOut)) : Math.sqrt(6 / fanIn);
    const w = Float32Array.from({ length: fanIn * fanOut }, () => (2 * rng.next() - 1) * limit);
    // Inside tidy: the initial tensors a variable is made from are released with it.
    layers.push({
      w: tf.tidy(() => tf.variable(tf.tensor2d(w, [fanIn, fanOut]), true, `w${i}`)),
      b: tf.tidy(() => tf.variable(tf.zeros([fanOut]), true, `b${i}`)),
    });
  }
  const act = activations[spec.activation];
  return {
    variables: layers.flatMap((l) => [l.w, l.b]),
    forward(x) {
      let h: tf.Tensor2D = x;
      layers.forEach((l, i) => {
        h = tf.add(tf.matMul(h, l.w as tf.Tensor2D), l.b);
        if (i + 1 < layers.length) h = act(h);
      });
      return h;
    },
    dispose() {
      for (const l of layers) {
        l.w.dispose();
        l.b.dispose();
      }
    },
  };
}
