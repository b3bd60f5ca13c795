/// <reference path="./webassembly.d.ts" />
import * as tf from '@tensorflow/tfjs';
import { type SimdKernels, simdKernels } from './simd';

type KernelArgs = Parameters<tf.KernelConfig["kernelFunc"]>[0];
type Backend = tf.KernelBackend;
type Info = tf.TensorInfo;
type WasmBackend = tf.KernelBackend & {
  disposeData(dataId: object): boolean;
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(info: Info): Float32Array;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { asm?: { memory?: WebAssembly.Memory } };
};

/** Byte offset of a tensor's data in the wasm backend's memory. */
const offsetOf = (backend: tf.KernelBackend, i: Info) => (backend as WasmBackend).dataIdMap.get(i.dataId).memoryOffset;

const run = (kernel: string, args: KernelArgs): Info => tf.getKernel(kernel, 'wasm')!.kernelFunc(args) as Info;

/** Runs `f` with a scratch list; every TensorInfo put in it is freed afterwards. */
function withScratch<T>(backend: tf.KernelBackend, f: (keep: (i: Info) => Info) => T): T {
  const scratch: Info[] = [];
  try {
    return f((i) => (scratch.push(i), i));
  } finally {
    for (const i of scratch) (backend as WasmBackend).disposeData(i.dataId);
  }
}

/** A wasm kernel replaced by `f`, which may hand cases it does not cover to the original. */
function override(name: string, f: (args: KernelArgs, original: tf.KernelConfig) => Info | Info[]): tf.KernelConfig {
  const original = tf.getKernel(name, 'wasm')!;
  return { ...original, kernelFunc: (args) => f(args, original) };
}

/** Swaps the last two axes. */
const swapLast = (x: Info, backend: tf.KernelBackend) => {
  const r = x.shape.length;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  return run('Transpose', { inputs: { x }, backend, attrs: { perm } });
};

/**
 * wasm runs every batched product (batch > 1: attention's [B·heads, n, n] scores and mixes) as a
 * scalar triple loop at ~1.7 GFLOP/s; the SIMD kernel does the same sums ~10× faster. Operands
 * are brought to [batch, m, k]·[batch, k, n] by wasm's rank-3 transpose, which is fast. Returns
 * null where the kernel does not apply (broadcast batches, n not a multiple of 4, batch 1).
 */
function batchedProduct(args: KernelArgs, simd: SimdKernels): Info | null {
  const { a, b } = args.inputs as { a: Info; b: Info };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const backend = args.backend as WasmBackend;
  const outer = a.shape.slice(0, -2);
  const batch = tf.util.sizeFromShape(outer);
  const sameBatch = a.shape.length === b.shape.length && outer.every((d, i) => d === b.shape[i]);
  const [m, k] = transposeA ? [a.shape.at(-1)!, a.shape.at(-2)!] : [a.shape.at(-2)!, a.shape.at(-1)!];
  const [kb, n] = transposeB ? [b.shape.at(-1)!, b.shape.at(-2)!] : [b.shape.at(-2)!, b.shape.at(-1)!];
  if (kb !== k) return null; // the backend's kernel reports the mismatch
  if (batch < 2 || !sameBatch || n % 4 !== 0 || a.dtype !== 'float32' || b.dtype !== 'float32' || m * n * k === 0) return null;
  return withScratch(backend, (keep) => {
    const left = transposeA ? keep(swapLast(a, backend)) : a;
    const right = transposeB ? keep(swapLast(b, backend)) : b;
    const out = backend.makeOutput([...outer, m, n], 'float32');
    simd.bmm(offsetOf(backend, left), offsetOf(backend, right), offsetOf(backend, out), batch, m, k, n);
    return out;
  });
}

/**
 * A matrix product with a transposed operand takes a naive, ~15× slower path in the wasm backend;
 * an explicit transpose then a plain product takes the fast one. Every backward pass needs it
 * (dW = Xᵀ·dY, dX = dY·Wᵀ).
 */
function transposeFirst(name: 'BatchMatMul' | '_FusedMatMul', simd: SimdKernels | null): tf.KernelConfig {
  return override(name, (args, original) => {
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (simd && name === 'BatchMatMul') {
      const out = batchedProduct(args, simd);
      if (out) return out;
    }
    if (!transposeA && !transposeB) return original.kernelFunc(args);
    return withScratch(args.backend as Backend, (keep) => {
      const a = args.inputs.a as Info;
      const b = args.inputs.b as Info;
      return original.kernelFunc({
        ...args,
        inputs: { ...args.inputs, a: transposeA ? keep(swapLast(a, args.backend as Backend)) : a, b: transposeB ? keep(swapLast(b, args.backend as Backend)) : b },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      }) as Info;
    });
  });
}

/**
 * The filter gradient of a 2-D convolution (NHWC), which the wasm backend lacks, composed from its
 * fast convolution: dW[kh,kw,ci,co] = Σ X[b, y·s+kh−p, x·s+kw−p, ci]·dY[b,y,x,co] is a convolution
 * of Xᵀ (channels as batch, batch as channels) with dYᵀ as the filter, dilated by the stride.
 */
const conv2dBackpropFilter: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: Info; dy: Info };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
      strides: [number, number] | number;
      pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
      dataFormat: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      filterShape: [number, number, number, number];
    };
    if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const [kh, kw, ci, co] = filterShape;
    return withScratch(backend as Backend, (keep) => {
      let xt = keep(run('Transpose', { inputs: { x }, backend, attrs: { perm: [3, 1, 2, 0] } }));
      const p = info.padInfo;
      // Pad enough that the valid correlation covers the whole filter window (extra is sliced off).
      const needH = (info.outHeight - 1) * info.strideHeight + kh;
      const needW = (info.outWidth - 1) * info.strideWidth + kw;
      const bottom = Math.max(0, needH - (x.shape[1]! + p.top));
      const right = Math.max(0, needW - (x.shape[2]! + p.left));
      if (p.top || bottom || p.left || right) {
        xt = keep(run('PadV2', { inputs: { x: xt }, backend, attrs: { paddings: [[0, 0], [p.top, bottom], [p.left, right], [0, 0]], constantValue: 0 } }));
      }
      const filter = keep(run('Transpose', { inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } }));
      let r = keep(
        run('Conv2D', {
          inputs: { x: xt, filter },
          backend,
          attrs: { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [info.strideHeight, info.strideWidth] },
        }),
      );
      if (r.shape[1] !== kh || r.shape[2] !== kw) {
        r = keep(run('Slice', { inputs: { x: r }, backend, attrs: { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] } }));
      }
      return run('Transpose', { inputs: { x: r }, backend, attrs: { perm: [1, 2, 0, 3] } });
    });
  },
};

/**
 * The input gradient of a 2-D convolution (NHWC). wasm registers one, but as a naive loop (about
 * a second per call for a small CIFAR convnet); composed from the fast convolution instead: dY
 * dilated by the stride, padded to a "full" correlation, convolved with the filter flipped in
 * space and with its channel axes swapped.
 */
const conv2dBackpropInput: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: Info; filter: Info };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as {
      strides: [number, number] | number;
      pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
      dataFormat: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      inputShape: [number, number, number, number];
    };
    if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropInput on wasm supports NHWC only');
    const [kh, kw] = filter.shape as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const [b, h, w, ci] = inputShape;
    const co = dy.shape[3]!;
    const [sh, sw] = [info.strideHeight, info.strideWidth];
    return withScratch(backend as Backend, (keep) => {
      let g = dy;
      if (sh > 1 || sw > 1) {
        // Zeros between the rows and columns of dY: reshape, pad a unit axis, reshape back.
        const oh = dy.shape[1]!;
        const ow = dy.shape[2]!;
        g = keep(run('Reshape', { inputs: { x: g }, backend, attrs: { shape: [b, oh, 1, ow, 1, co] } }));
        g = keep(run('PadV2', { inputs: { x: g }, backend, attrs: { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 } }));
        g = keep(run('Reshape', { inputs: { x: g }, backend, attrs: { shape: [b, oh * sh, ow * sw, co] } }));
        g = keep(run('Slice', { inputs: { x: g }, backend, attrs: { begin: [0, 0, 0, 0], size: [b, (oh - 1) * sh + 1, (ow - 1) * sw + 1, co] } }));
      }
      const top = kh - 1 - info.padInfo.top;
      const left = kw - 1 - info.padInfo.left;
      const bottom = h + kh - 1 - top - g.shape[1]!;
      const right = w + kw - 1 - left - g.shape[2]!;
      if (top < 0 || left < 0) throw new Error('Conv2DBackpropInput on wasm: padding larger than the filter is not supported');
      // Rows and columns past the last window get no gradient: pad them, or crop what overhangs.
      g = keep(run('PadV2', { inputs: { x: g }, backend, attrs: { paddings: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]], constantValue: 0 } }));
      if (bottom < 0 || right < 0) {
        g = keep(run('Slice', { inputs: { x: g }, backend, attrs: { begin: [0, 0, 0, 0], size: [b, h + kh - 1, w + kw - 1, co] } }));
      }
      const flipped = keep(run('Reverse', { inputs: { x: filter }, backend, attrs: { dims: [0, 1] } }));
      const swapped = keep(run('Transpose', { inputs: { x: flipped }, backend, attrs: { perm: [0, 1, 3, 2] } }));
      return run('Conv2D', { inputs: { x: g, filter: swapped }, backend, attrs: { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] } });
    });
  },
};

/**
 * The engine clones every tensor it saves for the backward pass, through Identity; wasm's Identity
 * copies the whole buffer (hundreds of activations per step). Sharing it by reference count, as
 * wasm's own Reshape does and the cpu backend's Identity does, is safe: no kernel writes its inputs.
 */
const identity: tf.KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const { x } = inputs as { x: Info };
    (backend as Backend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  },
};

/** A divisor of n between 4 and n/4 closest to 32, or 0: the block side of a tiled transpose. */
function blockSide(n: number): number {
  let best = 0;
  for (let d = 4; d * 4 <= n; d++) if (n % d === 0 && (!best || Math.abs(d - 32) < Math.abs(best - 32))) best = d;
  return best;
}

/**
 * wasm's rank-2 transpose walks the output with a stride of a whole row: for the activation
 * matrices of a backward pass (2048×192, rows of a power-of-two length) it runs ~7× slower than
 * its rank-4 transpose. [R, C] → [C, R] is the rank-4 permutation [2,3,0,1] of [R/r, r, C/c, c],
 * which visits the data in tiles.
 */
function tiledTranspose(): tf.KernelConfig {
  return override('Transpose', (args, original) => {
    const { x } = args.inputs as { x: Info };
    const { perm } = args.attrs as { perm: number[] };
    const [rows, cols] = x.shape as [number, number];
    const r = x.shape.length === 2 && perm[0] === 1 ? blockSide(rows) : 0;
    const c = r ? blockSide(cols) : 0;
    if (!c) return original.kernelFunc(args);
    const tiled = { ...x, shape: [rows / r, r, cols / c, c] };
    const out = original.kernelFunc({ ...args, inputs: { x: tiled }, attrs: { perm: [2, 3, 0, 1] } }) as Info;
    return { ...out, shape: [cols, rows] };
  });
}

/**
 * wasm sums over leading axes (a bias's gradient: dY summed over the batch) by transposing the
 * whole input first, then reducing rows; the SIMD column sum adds the rows in place instead
 * (~10× faster at 2048×192).
 */
function leadingSum(simd: SimdKernels): tf.KernelConfig {
  return override('Sum', (args, original) => {
    const { x } = args.inputs as { x: Info };
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = axes.length < x.shape.length && axes.every((a, i) => a === i);
    const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
    const cols = tf.util.sizeFromShape(x.shape.slice(axes.length));
    if (!leading || x.dtype !== 'float32' || rows < 2 || cols === 0) return original.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(keepDims ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length), 'float32');
    simd.colsum(offsetOf(backend, x), rows, cols, offsetOf(backend, out));
    return out;
  });
}

const fourBytes = (dtype: string) => dtype === 'float32' || dtype === 'int32';

/**
 * Splitting along an axis is copying column blocks of the [outer, axis·inner] view; wasm's
 * SplitV slices row by row from JS (~1.5 ms for a 2048×192 q/k/v split), the SIMD module
 * copies each block with bulk-memory copies.
 */
function blockSplit(simd: SimdKernels): tf.KernelConfig {
  return override('SplitV', (args, original) => {
    const { x } = args.inputs as { x: Info };
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
    const outer = tf.util.sizeFromShape(x.shape.slice(0, ax));
    const inner = tf.util.sizeFromShape(x.shape.slice(ax + 1));
    if (!fourBytes(x.dtype) || outer === 0 || inner === 0 || sizes.some((n) => n === 0)) return original.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const rowBytes = x.shape[ax]! * inner * 4;
    let offset = 0;
    return sizes.map((n) => {
      const out = backend.makeOutput(x.shape.map((d, i) => (i === ax ? n : d)), x.dtype);
      const bytes = n * inner * 4;
      simd.copyRows(offsetOf(backend, x) + offset, offsetOf(backend, out), outer, bytes, rowBytes, bytes);
      offset += bytes;
      return out;
    });
  });
}

/** Concatenation along an axis, the inverse of blockSplit (its gradient), by the same copies. */
function blockConcat(simd: SimdKernels): tf.KernelConfig {
  return override('Concat', (args, original) => {
    const parts = (args.inputs as unknown as Info[]).filter((t) => tf.util.sizeFromShape(t.shape) > 0);
    const first = parts[0];
    if (!first || parts.length < 2 || !fourBytes(first.dtype) || parts.some((t) => t.dtype !== first.dtype)) return original.kernelFunc(args);
    const ax = tf.util.parseAxisParam((args.attrs as { axis: number }).axis, first.shape)[0]!;
    const shape = tf.backend_util.computeOutShape(parts.map((t) => t.shape), ax);
    const outer = tf.util.sizeFromShape(shape.slice(0, ax));
    const inner = tf.util.sizeFromShape(shape.slice(ax + 1));
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(shape, first.dtype);
    const rowBytes = shape[ax]! * inner * 4;
    let offset = 0;
    for (const t of parts) {
      const bytes = t.shape[ax]! * inner * 4;
      simd.copyRows(offsetOf(backend, t), offsetOf(backend, out) + offset, outer, bytes, bytes, rowBytes);
      offset += bytes;
    }
    return out;
  });
}

/**
 * The gradient of an average pool whose windows tile the input (LeNet's 2×2, stride 2): each
 * input position gets its window's dy / window size. wasm's kernel loops over every window of
 * every output for each input; the SIMD module writes the input gradient once, in order.
 */
function tilingAvgPoolGrad(simd: SimdKernels): tf.KernelConfig {
  return override('AvgPoolGrad', (args, original) => {
    const { dy, input } = args.inputs as { dy: Info; input: Info };
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as {
      filterSize: [number, number] | number;
      strides: [number, number] | number;
      pad: 'valid' | 'same' | number;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const p = info.padInfo;
    const tiles =
      info.strideHeight === info.filterHeight && info.strideWidth === info.filterWidth && !p.top && !p.bottom && !p.left && !p.right &&
      info.inHeight === info.outHeight * info.filterHeight && info.inWidth === info.outWidth * info.filterWidth;
    if (!tiles || dy.dtype !== 'float32' || info.batchSize * info.outHeight * info.outWidth * info.inChannels === 0) return original.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(input.shape, 'float32');
    simd.avgPoolGrad(offsetOf(backend, dy), offsetOf(backend, out), info.batchSize * info.outHeight, info.filterHeight, info.outWidth, info.filterWidth, info.inChannels, 1 / (info.filterHeight * info.filterWidth));
    return out;
  });
}

/** The fused Adam step's kernel name; optimizers use it where a backend registers it. */
export const ADAM_KERNEL = 'LrsweepAdam';

/** Attributes of the fused Adam step (see optimizers.ts for their meaning). */
export interface AdamAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** lr / (1 − β1ᵗ) */
  step: number;
  /** √(1 − β2ᵗ) */
  sqrtBc2: number;
  /** AdamW's decoupled decay factor 1 − lr·λ (1 for Adam). */
  shrink: number;
}

/**
 * Adam's update as one pass over the gradient and both moments (the composed ops take ~12
 * kernel calls and as many passes per variable). Inputs g, m, s, w; outputs m', s', w'.
 */
function fusedAdam(simd: SimdKernels): tf.KernelConfig {
  return {
    kernelName: ADAM_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { g, m, s, w } = inputs as { g: Info; m: Info; s: Info; w: Info };
      const a = attrs as unknown as AdamAttrs;
      const be = backend as WasmBackend;
      const outs = [be.makeOutput(m.shape, 'float32'), be.makeOutput(s.shape, 'float32'), be.makeOutput(w.shape, 'float32')] as const;
      const at = (i: Info) => offsetOf(be, i);
      simd.adam(at(g), at(m), at(s), at(w), at(outs[0]), at(outs[1]), at(outs[2]), tf.util.sizeFromShape(w.shape),
        a.beta1, 1 - a.beta1, a.beta2, 1 - a.beta2, a.sqrtBc2, a.epsilon, a.step, a.shrink);
      return [...outs];
    },
  };
}

/** wasm's Cast copies even to the same dtype (every tf.moments casts); share the buffer instead. */
function sharingCast(): tf.KernelConfig {
  return override('Cast', (args, original) => {
    const { x } = args.inputs as { x: Info };
    if ((args.attrs as { dtype: string }).dtype !== x.dtype) return original.kernelFunc(args);
    return identity.kernelFunc({ inputs: { x }, backend: args.backend, attrs: {} });
  });
}

let patching: Promise<void> | undefined;

/**
 * Fills the wasm backend's training gaps inside the TF.js kernel registry, so models need no
 * special cases: fast transposed and batched matrix products, both convolution gradients, fast
 * transposes and bias-gradient sums, and Identity/Cast that share instead of copying. Call once
 * the wasm backend is active; idempotent (concurrent calls share one patching). Without access
 * to the backend's memory (a TF.js build that hides it) the SIMD kernels are left out.
 */
export function patchWasmKernels(): Promise<void> {
  if (tf.getBackend() !== 'wasm') return Promise.resolve();
  patching ??= (async () => {
    const memory = (tf.backend() as WasmBackend).wasm.asm?.memory;
    const simd = memory instanceof WebAssembly.Memory ? await simdKernels(memory) : null;
    const configs = [transposeFirst('BatchMatMul', simd), transposeFirst('_FusedMatMul', simd), conv2dBackpropInput, identity, tiledTranspose(), sharingCast()];
    if (simd) configs.push(leadingSum(simd), fusedAdam(simd), blockSplit(simd), blockConcat(simd), tilingAvgPoolGrad(simd));
    for (const config of configs) {
      if (tf.getKernel(config.kernelName, 'wasm')) tf.unregisterKernel(config.kernelName, 'wasm');
      tf.registerKernel(config);
    }
    if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) tf.registerKernel(conv2dBackpropFilter);
  })();
  return patching;
}
