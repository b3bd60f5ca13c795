import type { ModelSpec } from '@lrsweep/contract';
import * as tf from '@tensorflow/tfjs';
import { type Activation, activate, conv, dense, layerNorm, Params } from './layers';
import type { Rng } from './rng';

export type { ModelSpec };

/** Image shape [height, width, channels] of the samples (flat models ignore it). */
export type InputShape = [number, number, number];

export interface Model {
  variables: tf.Variable[];
  /** Logits for a batch of flat samples `[n, h·w·c]`. */
  forward(x: tf.Tensor2D): tf.Tensor2D;
  /** Multiply-adds ×2 of one sample's forward pass (matrix products and convolutions). */
  forwardFlops: number;
  dispose(): void;
}

export function createModel(spec: ModelSpec, shape: InputShape, numClasses: number, rng: Rng): Model {
  switch (spec.kind) {
    case 'mlp':
      return mlp(spec, shape, numClasses, rng);
    case 'lenet':
      return lenet(spec, shape, numClasses, rng);
    case 'cnn':
      return cnn(spec, shape, numClasses, rng);
    case 'vit':
      return vit(spec, shape, numClasses, rng);
  }
}

const model = (p: Params, forward: Model['forward'], forwardFlops: number): Model => ({
  variables: p.variables,
  forward,
  forwardFlops,
  dispose: () => p.dispose(),
});

function mlp(spec: Extract<ModelSpec, { kind: 'mlp' }>, shape: InputShape, classes: number, rng: Rng): Model {
  const p = new Params(rng);
  const sizes = [shape[0] * shape[1] * shape[2], ...spec.hidden, classes];
  const layers = sizes.slice(1).map((out, i) => dense(p, sizes[i]!, out, i + 2 < sizes.length ? spec.activation : 'none'));
  const flops = sizes.slice(1).reduce((a, out, i) => a + 2 * sizes[i]! * out, 0);
  return model(
    p,
    (x) => layers.reduce((h, layer, i) => (i + 1 < layers.length ? (activate(spec.activation, layer(h)) as tf.Tensor2D) : layer(h)), x),
    flops,
  );
}

/** D2L's LeNet: conv 6@5×5 (pad 2), avg-pool, conv 16@5×5, avg-pool, dense 120, 84, classes. */
function lenet(spec: Extract<ModelSpec, { kind: 'lenet' }>, [h, w, c]: InputShape, classes: number, rng: Rng): Model {
  const p = new Params(rng);
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
  return model(
    p,
    (x) => {
      let y = tf.reshape(x, [-1, h, w, c]) as tf.Tensor4D;
      y = tf.avgPool(activate(act, c1(y)) as tf.Tensor4D, 2, 2, 'valid');
      y = tf.avgPool(activate(act, c2(y)) as tf.Tensor4D, 2, 2, 'valid');
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
function cnn(spec: Extract<ModelSpec, { kind: 'cnn' }>, [h, w, c]: InputShape, classes: number, rng: Rng): Model {
  const p = new Params(rng);
  let cin = c;
  let flops = 0;
  let hh = h;
  let ww = w;
  const stages = spec.channels.map((cout) => {
    const a = conv(p, 3, cin, cout, 'same');
    const b = conv(p, 3, cout, cout, 'same');
    const norms = spec.batchNorm ? [0, 1].map(() => ({ g: p.constant([cout], 1, 'bn_g'), b: p.constant([cout], 0, 'bn_b') })) : null;
    flops += 2 * 9 * (cin * cout + cout * cout) * hh * ww;
    hh = Math.floor(hh / 2);
    ww = Math.floor(ww / 2);
    cin = cout;
    return { a, b, norms };
  });
  const head = dense(p, cin, classes);
  flops += 2 * cin * classes;
  const norm = (x: tf.Tensor4D, n: { g: tf.Variable; b: tf.Variable } | undefined) => {
    if (!n) return x;
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.batchNorm(x, mean, variance, n.b, n.g, 1e-5);
  };
  return model(
    p,
    (x) => {
      let y = tf.reshape(x, [-1, h, w, c]) as tf.Tensor4D;
      for (const s of stages) {
        y = tf.relu(norm(s.a(y), s.norms?.[0])) as tf.Tensor4D;
        y = tf.relu(norm(s.b(y), s.norms?.[1])) as tf.Tensor4D;
        y = tf.maxPool(y, 2, 2, 'valid');
      }
      return head(tf.mean(y, [1, 2]) as tf.Tensor2D);
    },
    flops,
  );
}

/**
 * A small vision transformer. Patches are embedded by reshape + matrix product (no convolution,
 * so it trains on wasm); learned position embeddings; pre-norm blocks of multi-head attention and
 * a GELU MLP; mean-pooled tokens feed the classifier.
 */
function vit(spec: Extract<ModelSpec, { kind: 'vit' }>, [h, w, c]: InputShape, classes: number, rng: Rng): Model {
  const { patchSize: ps, width: d, depth, heads, mlpRatio } = spec;
  const p = new Params(rng);
  const gh = h / ps;
  const gw = w / ps;
  const n = gh * gw;
  const pd = ps * ps * c;
  const hd = d / heads;
  const embed = dense(p, pd, d);
  const pos = p.uniform([n, d], 0.02, 'pos');
  const blocks = Array.from({ length: depth }, () => ({
    ln1: layerNorm(p, d),
    qkv: dense(p, d, 3 * d),
    out: dense(p, d, d),
    ln2: layerNorm(p, d),
    fc1: dense(p, d, d * mlpRatio, 'gelu'),
    fc2: dense(p, d * mlpRatio, d),
  }));
  const lnf = layerNorm(p, d);
  const head = dense(p, d, classes);
  const flops = 2 * (n * pd * d + depth * (n * d * 3 * d + 2 * n * n * d + n * d * d + 2 * n * d * d * mlpRatio) + d * classes);
  const tokens = (x: tf.Tensor, b: number) => tf.reshape(x, [b, n, d]);
  return model(
    p,
    (x) => {
      const b = x.shape[0];
      const patches = tf.reshape(tf.transpose(tf.reshape(x, [b, gh, ps, gw, ps, c]), [0, 1, 3, 2, 4, 5]), [b * n, pd]) as tf.Tensor2D;
      let t = tf.add(tokens(embed(patches), b), pos);
      const flat = (y: tf.Tensor) => tf.reshape(y, [b * n, -1]) as tf.Tensor2D;
      for (const k of blocks) {
        // Split q, k, v first: a rank-5 transpose takes wasm's generic path, ~300× slower than rank 4.
        const headsFirst = (z: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(z, [b, n, heads, hd]), [0, 2, 1, 3]), [b * heads, n, hd]) as tf.Tensor3D;
        const [q, kk, v] = tf.split(k.qkv(flat(k.ln1(t))), 3, 1).map(headsFirst);
        const att = tf.softmax(tf.div(tf.matMul(q!, kk!, false, true), Math.sqrt(hd)));
        const mixed = tf.reshape(tf.transpose(tf.reshape(tf.matMul(att, v!), [b, heads, n, hd]), [0, 2, 1, 3]), [b * n, d]) as tf.Tensor2D;
        t = tf.add(t, tokens(k.out(mixed), b));
        t = tf.add(t, tokens(k.fc2(activate('gelu', k.fc1(flat(k.ln2(t)))) as tf.Tensor2D), b));
      }
      return head(tf.mean(lnf(t), 1) as tf.Tensor2D);
    },
    flops,
  );
}
