import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

/**
 * Fused layer-norm and GELU kernels for the native CPU backend (native/fused_ops.c): each one
 * TensorFlow op where the composed TF.js ops dispatch 7 to 12, each paying ~15 µs of dispatch and a
 * pass over memory; a ViT or GPT update makes ~600 kernel calls, and these were a fifth of them.
 * `pnpm setup:tensorflow` builds the library beside the binding's TensorFlow libraries; where it
 * is absent (or LRSWEEP_FUSED_OPS=0), and on wasm and the GPU, the layers compose the same
 * functions from TF.js ops (the parity suite holds the two to the same losses).
 */
export const FUSED_OPS_FILE = 'lrsweep_fused_ops.node';

const require = createRequire(import.meta.url);

/** The built library of the installed tfjs-node package, or null when there is none. */
export function fusedOpsPath(pkg = '@tensorflow/tfjs-node'): string | null {
  try {
    const file = join(dirname(require.resolve(`${pkg}/package.json`)), 'deps', 'lib', FUSED_OPS_FILE);
    return existsSync(file) ? file : null;
  } catch {
    return null;
  }
}

interface NativeBackend {
  binding: { TF_ATTR_FLOAT: number };
  executeSingleOutput(name: string, attrs: object[], inputs: tf.TensorInfo[]): tf.TensorInfo;
  executeMultipleOutputs(name: string, attrs: object[], inputs: tf.TensorInfo[], n: number): tf.TensorInfo[];
}

let state: { loaded: boolean; reason: string } | null = null;

/**
 * Loads the fused ops into TensorFlow's process-wide registries (the library registers them once
 * per process and, linked -z nodelete, stays loaded when a replaced thread's add-ons are
 * unloaded) and registers their
 * TF.js kernels and gradients for the `tensorflow` backend. Says whether they are in use, and why
 * not. Only for the CPU build: the kernels are CPU ones, and on a GPU TensorFlow would copy every
 * activation to the host and back to run them.
 */
export function loadFusedOps(opts: { gpu: boolean; pkg?: string }): { loaded: boolean; reason: string } {
  if (opts.gpu) return { loaded: false, reason: 'GPU backend: its own kernels' };
  if (state) return state;
  if (process.env.LRSWEEP_FUSED_OPS === '0') return (state = { loaded: false, reason: 'LRSWEEP_FUSED_OPS=0' });
  const file = fusedOpsPath(opts.pkg);
  if (!file)
    return (state = { loaded: false, reason: `${FUSED_OPS_FILE} is not built (pnpm setup:tensorflow builds it)` });
  try {
    const lib = require(file) as { ops?: string[] };
    if (!lib.ops?.includes('LrsweepLayerNorm')) throw new Error(`${file} registers no LrsweepLayerNorm`);
    registerKernels();
    state = { loaded: true, reason: `fused layer norm and GELU (${file})` };
  } catch (err) {
    state = { loaded: false, reason: `${FUSED_OPS_FILE} did not load: ${(err as Error).message}` };
  }
  return state;
}

let enabled = true;
/** Turns the fused kernels off and on in this process (tests and benches compare the two paths). */
export function setFusedOps(on: boolean) {
  enabled = on;
}

/** Whether the layers take the fused kernels now: loaded, enabled, and the native backend active. */
export const fusedOpsActive = () => enabled && state?.loaded === true && tf.getBackend() === 'tensorflow';

const LAYER_NORM = 'LrsweepLayerNorm';
const LAYER_NORM_GRAD = 'LrsweepLayerNormGrad';
const GELU = 'LrsweepGelu';
const GELU_GRAD = 'LrsweepGeluGrad';

function registerKernels() {
  // Once per thread (each has its own TF.js registry): loadFusedOps keeps its answer.
  const kernel = (
    kernelName: string,
    run: (b: NativeBackend, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap) => tf.TensorInfo | tf.TensorInfo[],
  ) => {
    tf.registerKernel({
      kernelName,
      backendName: 'tensorflow',
      kernelFunc: ({ inputs, backend, attrs }) => run(backend as unknown as NativeBackend, inputs, attrs ?? {}),
    });
  };
  kernel(LAYER_NORM, (b, { x, gamma, beta }, { epsilon }) =>
    b.executeMultipleOutputs(
      LAYER_NORM,
      [{ name: 'epsilon', type: b.binding.TF_ATTR_FLOAT, value: epsilon }],
      [x!, gamma!, beta!],
      3,
    ),
  );
  kernel(LAYER_NORM_GRAD, (b, { dy, x, gamma, mean, rstd }) =>
    b.executeMultipleOutputs(LAYER_NORM_GRAD, [], [dy!, x!, gamma!, mean!, rstd!], 3),
  );
  kernel(GELU, (b, { x }) => b.executeSingleOutput(GELU, [], [x!]));
  kernel(GELU_GRAD, (b, { dy, x }) => b.executeSingleOutput(GELU_GRAD, [], [dy!, x!]));
  tf.registerGradient({
    kernelName: LAYER_NORM,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved) => {
      // Only y reaches the loss: mean and rstd are saved for this gradient, not used downstream.
      const dy = (dys as tf.Tensor[])[0]!;
      const [x, gamma, mean, rstd] = saved;
      const [dx, dgamma, dbeta] = tf
        .engine()
        .runKernel(LAYER_NORM_GRAD, { dy, x: x!, gamma: gamma!, mean: mean!, rstd: rstd! }) as tf.Tensor[];
      return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
    },
  });
  tf.registerGradient({
    kernelName: GELU,
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.engine().runKernel(GELU_GRAD, { dy: dy as tf.Tensor, x: x! }) as tf.Tensor }),
  });
}

/** Layer norm over the last axis in one kernel: y (x's shape), and each row's mean and 1/σ. */
export function fusedLayerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  const [y] = tf.engine().runKernel(LAYER_NORM, { x, gamma, beta }, { epsilon }) as tf.Tensor[];
  return y!;
}

/** GELU's tanh form in one kernel. */
export const fusedGelu = (x: tf.Tensor): tf.Tensor => tf.engine().runKernel(GELU, { x }) as tf.Tensor;
