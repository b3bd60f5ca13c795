import * as tf from '@tensorflow/tfjs';

type KernelArgs = Parameters<tf.KernelConfig["kernelFunc"]>[0];
type Backend = tf.KernelBackend;
type Info = tf.TensorInfo;
type WasmBackend = tf.KernelBackend & { disposeData(dataId: object): boolean };

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

/** Swaps the last two axes. */
const swapLast = (x: Info, backend: tf.KernelBackend) => {
  const r = x.shape.length;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  return run('Transpose', { inputs: { x }, backend, attrs: { perm } });
};

/**
 * A matrix product with a transposed operand takes a naive, ~15× slower path in the wasm backend;
 * an explicit transpose then a plain product takes the fast one. Every backward pass needs it
 * (dW = Xᵀ·dY, dX = dY·Wᵀ).
 */
function transposeFirst(name: 'BatchMatMul' | '_FusedMatMul'): tf.KernelConfig {
  const original = tf.getKernel(name, 'wasm')!;
  return {
    ...original,
    kernelFunc: (args) => {
      const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
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
    },
  };
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

let patched = false;

/**
 * Fills the wasm backend's training gaps inside the TF.js kernel registry, so models need no
 * special cases: fast transposed matrix products, both convolution gradients, and an Identity
 * that shares instead of copying. Call once
 * the wasm backend is active; idempotent.
 */
export function patchWasmKernels(): void {
  if (patched || tf.getBackend() !== 'wasm') return;
  for (const name of ['BatchMatMul', '_FusedMatMul'] as const) {
    const config = transposeFirst(name);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
  }
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) tf.registerKernel(conv2dBackpropFilter);
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel(conv2dBackpropInput);
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel(identity);
  patched = true;
}
