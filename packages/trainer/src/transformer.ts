import { TrialError } from '@lrsweep/contract';
import * as tf from '@tensorflow/tfjs';
import { activate, dense, dropper, type ForwardOptions, layerNorm, type Params, probed } from './layers';
import type { Model, ModelSpec } from './models';

/**
 * Pre-norm transformer blocks (multi-head attention, then a GELU MLP, each a residual branch)
 * over tokens `[b, n, width]`. `mask` (added to the attention scores) makes attention causal.
 * Attention scores are divided by √(head size), or under μP by the head size.
 */
export function transformerBlocks(
  p: Params,
  { width: d, depth, heads, mlpRatio }: { width: number; depth: number; heads: number; mlpRatio: number },
) {
  const hd = d / heads;
  const blocks = Array.from({ length: depth }, () => ({
    ln1: layerNorm(p, d),
    qkv: dense(p, d, 3 * d),
    out: dense(p, d, d),
    ln2: layerNorm(p, d),
    fc1: dense(p, d, d * mlpRatio, 'gelu'),
    fc2: dense(p, d * mlpRatio, d),
  }));
  return {
    /** Multiply-adds ×2 of the blocks for one sample of `n` tokens. */
    flops: (n: number) => 2 * depth * (n * d * 3 * d + 2 * n * n * d + n * d * d + 2 * n * d * d * mlpRatio),
    apply(
      t0: tf.Tensor3D,
      mask: tf.Tensor | null,
      drop: ReturnType<typeof dropper>,
      opts?: ForwardOptions,
    ): tf.Tensor3D {
      const [b, n] = t0.shape;
      const tokens = (x: tf.Tensor) => tf.reshape(x, [b, n, d]);
      const flat = (y: tf.Tensor) => tf.reshape(y, [b * n, -1]) as tf.Tensor2D;
      // Split q, k, v first: a rank-5 transpose takes wasm's generic path, ~300× slower than rank 4.
      const headsFirst = (z: tf.Tensor) =>
        tf.reshape(tf.transpose(tf.reshape(z, [b, n, heads, hd]), [0, 2, 1, 3]), [b * heads, n, hd]) as tf.Tensor3D;
      let t: tf.Tensor = t0;
      for (const [i, k] of blocks.entries()) {
        const [q, kk, v] = tf.split(k.qkv(flat(k.ln1(t))), 3, 1).map(headsFirst);
        let scores = tf.div(tf.matMul(q!, kk!, false, true), p.mup ? hd : Math.sqrt(hd));
        if (mask) scores = tf.add(scores, mask);
        const mixed = tf.reshape(
          tf.transpose(tf.reshape(tf.matMul(tf.softmax(scores), v!), [b, heads, n, hd]), [0, 2, 1, 3]),
          [b * n, d],
        ) as tf.Tensor2D;
        t = tf.add(t, drop(tokens(probed(opts, `block${i + 1}.attention`, k.out(mixed)))));
        const hidden = probed(opts, `block${i + 1}.mlp`, activate('gelu', k.fc1(flat(k.ln2(t)))) as tf.Tensor2D);
        t = probed(opts, `block${i + 1}`, tf.add(t, drop(tokens(k.fc2(hidden)))));
      }
      return t as tf.Tensor3D;
    },
  };
}

/**
 * A small decoder-only transformer (GPT-style) for the byte-level text task: tokens embedded by
 * a one-hot matrix product (a dense kernel, fast on wasm, where a gather's gradient is not),
 * learned positions, pre-norm causal blocks, a final norm and a linear head over the vocabulary.
 * A row of its output is one position's next-token logits.
 */
export function gpt(
  spec: Extract<ModelSpec, { kind: 'gpt' }>,
  contextLength: number,
  vocab: number,
  p: Params,
): Omit<Model, never> {
  const { width: d, depth, heads, mlpRatio } = spec;
  const n = spec.contextLength ?? contextLength;
  if (n !== contextLength)
    throw new TrialError(
      'CONFIG_INVALID',
      `the gpt's contextLength (${n}) differs from the dataset's (${contextLength})`,
    );
  const embed = p.uniform([vocab, d], 0.02 * Math.sqrt(3), 'tok', 'input');
  const pos = p.uniform([n, d], 0.02 * Math.sqrt(3), 'pos');
  const blocks = transformerBlocks(p, { width: d, depth, heads, mlpRatio });
  const lnf = layerNorm(p, d);
  const head = dense(p, d, vocab, 'none', 'output');
  // −1e9 above the diagonal: position i attends to positions ≤ i.
  const mask = tf.tidy(() => tf.keep(tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([n, n]), -1, 0)), -1e9)));
  return {
    variables: p.variables,
    roles: p.roles,
    parametrization: p.parametrization,
    state: [],
    outputs: 'logits',
    loss: 'softmax',
    width: vocab,
    forwardFlops: 2 * n * (vocab * d + d * vocab) + blocks.flops(n),
    forward(x, opts) {
      const b = x.shape[0];
      const drop = dropper(spec.dropout ?? 0, opts);
      const oneHot = tf.cast(tf.oneHot(tf.reshape(x, [b * n]) as tf.Tensor1D, vocab), 'float32') as tf.Tensor2D;
      const tokens = tf.add(tf.reshape(tf.matMul(oneHot, embed as tf.Tensor2D), [b, n, d]), pos) as tf.Tensor3D;
      const t = blocks.apply(drop(probed(opts, 'embedding', tokens)), mask, drop, opts);
      return probed(opts, 'output', head(tf.reshape(lnf(t), [b * n, d]) as tf.Tensor2D));
    },
    dispose() {
      mask.dispose();
      p.dispose();
    },
  };
}
