/// <reference path="./webassembly.d.ts" />
import * as tf from '@tensorflow/tfjs';
import { type SimdKernels, simdKernels } from './simd';
import { type Backend, type Info, override, run, swapLast, type WasmBackend, withScratch } from './wasm-kernel-util';
import { batchedProduct, simdKernelConfigs } from './wasm-simd-kernels';

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
        inputs: {
          ...args.inputs,
          a: transposeA ? keep(swapLast(a, args.backend as Backend)) : a,
          b: transposeB ? keep(swapLast(b, args.backend as Backend)) : b,
        },
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
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
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
        xt = keep(
          run('PadV2', {
            inputs: { x: xt },
            backend,
            attrs: {
              paddings: [
                [0, 0],
                [p.top, bottom],
                [p.left, right],
                [0, 0],
              ],
              constantValue: 0,
            },
          }),
        );
      }
      const filter = keep(run('Transpose', { inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } }));
      let r = keep(
        run('Conv2D', {
          inputs: { x: xt, filter },
          backend,
          attrs: {
            strides: [1, 1],
            pad: 'valid',
            dataFormat: 'NHWC',
            dilations: [info.strideHeight, info.strideWidth],
          },
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
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    const [b, h, w] = inputShape;
    const co = dy.shape[3]!;
    const [sh, sw] = [info.strideHeight, info.strideWidth];
    return withScratch(backend as Backend, (keep) => {
      let g = dy;
      if (sh > 1 || sw > 1) {
        // Zeros between the rows and columns of dY: reshape, pad a unit axis, reshape back.
        const oh = dy.shape[1]!;
        const ow = dy.shape[2]!;
        g = keep(run('Reshape', { inputs: { x: g }, backend, attrs: { shape: [b, oh, 1, ow, 1, co] } }));
        g = keep(
          run('PadV2', {
            inputs: { x: g },
            backend,
            attrs: {
              paddings: [
                [0, 0],
                [0, 0],
                [0, sh - 1],
                [0, 0],
                [0, sw - 1],
                [0, 0],
              ],
              constantValue: 0,
            },
          }),
        );
        g = keep(run('Reshape', { inputs: { x: g }, backend, attrs: { shape: [b, oh * sh, ow * sw, co] } }));
        g = keep(
          run('Slice', {
            inputs: { x: g },
            backend,
            attrs: { begin: [0, 0, 0, 0], size: [b, (oh - 1) * sh + 1, (ow - 1) * sw + 1, co] },
          }),
        );
      }
      const top = kh - 1 - info.padInfo.top;
      const left = kw - 1 - info.padInfo.left;
      const bottom = h + kh - 1 - top - g.shape[1]!;
      const right = w + kw - 1 - left - g.shape[2]!;
      if (top < 0 || left < 0)
        throw new Error('Conv2DBackpropInput on wasm: padding larger than the filter is not supported');
      // Rows and columns past the last window get no gradient: pad them, or crop what overhangs.
      g = keep(
        run('PadV2', {
          inputs: { x: g },
          backend,
          attrs: {
            paddings: [
              [0, 0],
              [top, Math.max(0, bottom)],
              [left, Math.max(0, right)],
              [0, 0],
            ],
            constantValue: 0,
          },
        }),
      );
      if (bottom < 0 || right < 0) {
        g = keep(
          run('Slice', {
            inputs: { x: g },
            backend,
            attrs: { begin: [0, 0, 0, 0], size: [b, h + kh - 1, w + kw - 1, co] },
          }),
        );
      }
      const flipped = keep(run('Reverse', { inputs: { x: filter }, backend, attrs: { dims: [0, 1] } }));
      const swapped = keep(run('Transpose', { inputs: { x: flipped }, backend, attrs: { perm: [0, 1, 3, 2] } }));
      return run('Conv2D', {
        inputs: { x: g, filter: swapped },
        backend,
        attrs: { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] },
      });
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
    const configs = [
      transposeFirst('BatchMatMul', simd),
      transposeFirst('_FusedMatMul', simd),
      conv2dBackpropInput,
      identity,
      tiledTranspose(),
      sharingCast(),
    ];
    if (simd) configs.push(...simdKernelConfigs(simd));
    for (const config of configs) {
      if (tf.getKernel(config.kernelName, 'wasm')) tf.unregisterKernel(config.kernelName, 'wasm');
      tf.registerKernel(config);
    }
    if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) tf.registerKernel(conv2dBackpropFilter);
  })();
  return patching;
}
