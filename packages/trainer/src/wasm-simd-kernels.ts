// Kernels backed by the WebAssembly SIMD module (simd/kernels.wat), run on the wasm backend's
// memory; wasm-kernels.ts registers them. Each hands the cases it does not cover to the backend.
/// <reference path="./webassembly.d.ts" />
import * as tf from '@tensorflow/tfjs';
import { ADAM_KERNEL, type AdamAttrs } from './optimizers';
import type { SimdKernels } from './simd';
import {
  type Info,
  type KernelArgs,
  offsetOf,
  override,
  swapLast,
  type WasmBackend,
  withScratch,
} from './wasm-kernel-util';

/**
 * wasm runs every batched product (batch > 1: attention's [B·heads, n, n] scores and mixes) as a
 * scalar triple loop at ~1.7 GFLOP/s; the SIMD kernel does the same sums ~10× faster. Operands
 * are brought to [batch, m, k]·[batch, k, n] by wasm's rank-3 transpose, which is fast. Returns
 * null where the kernel does not apply (broadcast batches, n not a multiple of 4, batch 1).
 */
export function batchedProduct(args: KernelArgs, simd: SimdKernels): Info | null {
  const { a, b } = args.inputs as { a: Info; b: Info };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  const backend = args.backend as WasmBackend;
  const outer = a.shape.slice(0, -2);
  const batch = tf.util.sizeFromShape(outer);
  const sameBatch = a.shape.length === b.shape.length && outer.every((d, i) => d === b.shape[i]);
  const [m, k] = transposeA ? [a.shape.at(-1)!, a.shape.at(-2)!] : [a.shape.at(-2)!, a.shape.at(-1)!];
  const [kb, n] = transposeB ? [b.shape.at(-1)!, b.shape.at(-2)!] : [b.shape.at(-2)!, b.shape.at(-1)!];
  if (kb !== k) return null; // the backend's kernel reports the mismatch
  if (batch < 2 || !sameBatch || n % 4 !== 0 || a.dtype !== 'float32' || b.dtype !== 'float32' || m * n * k === 0)
    return null;
  return withScratch(backend, (keep) => {
    const left = transposeA ? keep(swapLast(a, backend)) : a;
    const right = transposeB ? keep(swapLast(b, backend)) : b;
    const out = backend.makeOutput([...outer, m, n], 'float32');
    simd.bmm(offsetOf(backend, left), offsetOf(backend, right), offsetOf(backend, out), batch, m, k, n);
    return out;
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
    const out = backend.makeOutput(
      keepDims ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length),
      'float32',
    );
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
    if (!fourBytes(x.dtype) || outer === 0 || inner === 0 || sizes.some((n) => n === 0))
      return original.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const rowBytes = x.shape[ax]! * inner * 4;
    let offset = 0;
    return sizes.map((n) => {
      const out = backend.makeOutput(
        x.shape.map((d, i) => (i === ax ? n : d)),
        x.dtype,
      );
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
    if (!first || parts.length < 2 || !fourBytes(first.dtype) || parts.some((t) => t.dtype !== first.dtype))
      return original.kernelFunc(args);
    const ax = tf.util.parseAxisParam((args.attrs as { axis: number }).axis, first.shape)[0]!;
    const shape = tf.backend_util.computeOutShape(
      parts.map((t) => t.shape),
      ax,
    );
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
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const p = info.padInfo;
    const tiles =
      info.strideHeight === info.filterHeight &&
      info.strideWidth === info.filterWidth &&
      !p.top &&
      !p.bottom &&
      !p.left &&
      !p.right &&
      info.inHeight === info.outHeight * info.filterHeight &&
      info.inWidth === info.outWidth * info.filterWidth;
    if (!tiles || dy.dtype !== 'float32' || info.batchSize * info.outHeight * info.outWidth * info.inChannels === 0)
      return original.kernelFunc(args);
    const backend = args.backend as WasmBackend;
    const out = backend.makeOutput(input.shape, 'float32');
    simd.avgPoolGrad(
      offsetOf(backend, dy),
      offsetOf(backend, out),
      info.batchSize * info.outHeight,
      info.filterHeight,
      info.outWidth,
      info.filterWidth,
      info.inChannels,
      1 / (info.filterHeight * info.filterWidth),
    );
    return out;
  });
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
      const outs = [
        be.makeOutput(m.shape, 'float32'),
        be.makeOutput(s.shape, 'float32'),
        be.makeOutput(w.shape, 'float32'),
      ] as const;
      const at = (i: Info) => offsetOf(be, i);
      simd.adam(
        at(g),
        at(m),
        at(s),
        at(w),
        at(outs[0]),
        at(outs[1]),
        at(outs[2]),
        tf.util.sizeFromShape(w.shape),
        a.beta1,
        1 - a.beta1,
        a.beta2,
        1 - a.beta2,
        a.sqrtBc2,
        a.epsilon,
        a.step,
        a.shrink,
      );
      return [...outs];
    },
  };
}

/** The SIMD-backed replacements and additions, for patchWasmKernels to register. */
export const simdKernelConfigs = (simd: SimdKernels): tf.KernelConfig[] => [
  leadingSum(simd),
  fusedAdam(simd),
  blockSplit(simd),
  blockConcat(simd),
  tilingAvgPoolGrad(simd),
];
