import { execSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { loadFusedOps } from './native-ops';
import { patchWasmKernels } from './wasm-kernels';

export type BackendPreference = 'auto' | 'wasm' | 'cpu' | 'tensorflow' | 'tensorflow-gpu';

export interface BackendChoice {
  /** TF.js backend name as registered: `tensorflow` (tfjs-node/-gpu), `wasm` or `cpu`. */
  name: string;
  /** The package that provides it. */
  package: string;
  gpu: boolean;
  /** The native CPU backend's fused kernels (native-ops.ts): in use, or why not. */
  fusedOps?: { loaded: boolean; reason: string };
}

/** Imports a module only if it is installed; native TF.js packages are optional here. */
export type Importer = (name: string) => Promise<unknown>;
// The backends lrsweep depends on are imported by name, so a bundler (`pnpm bundle`) carries
// them; the native ones are found at run time, when installed.
const dependedOn: Record<string, () => Promise<unknown>> = {
  '@tensorflow/tfjs-backend-wasm': () => import('@tensorflow/tfjs-backend-wasm'),
  '@tensorflow/tfjs-backend-cpu': () => import('@tensorflow/tfjs-backend-cpu'),
};
const defaultImporter: Importer = (name) => dependedOn[name]?.() ?? import(/* @vite-ignore */ name);

/**
 * Picks and activates a backend. `auto`: `@tensorflow/tfjs-node-gpu` when it is installed and
 * sees a GPU, then `@tensorflow/tfjs-node`, then `wasm`. `cpu` (pure JS, slow) only when asked.
 * The native packages are never default dependencies (their install downloads libtensorflow);
 * the GPU worker image installs them.
 */
export async function selectBackend(
  pref: BackendPreference = 'auto',
  { load = defaultImporter, detectGpu = nvidiaGpuPresent }: { load?: Importer; detectGpu?: () => boolean } = {},
): Promise<BackendChoice> {
  const tryNative = async (pkg: string, gpu: boolean): Promise<BackendChoice | null> => {
    try {
      // tfjs-node-gpu falls back to the CPU silently when no GPU is usable: check first.
      if (gpu && !detectGpu()) return null;
      await load(pkg);
      if (!(await tf.setBackend('tensorflow'))) return null;
      return { name: 'tensorflow', package: pkg, gpu, fusedOps: loadFusedOps({ gpu, pkg }) };
    } catch {
      return null;
    }
  };
  if (pref === 'auto' || pref === 'tensorflow-gpu') {
    const c = await tryNative('@tensorflow/tfjs-node-gpu', true);
    if (c) return c;
    if (pref === 'tensorflow-gpu') throw new Error('@tensorflow/tfjs-node-gpu is not installed or sees no GPU');
  }
  if (pref === 'auto' || pref === 'tensorflow') {
    const c = await tryNative('@tensorflow/tfjs-node', false);
    if (c) return c;
    if (pref === 'tensorflow') throw new Error('@tensorflow/tfjs-node is not installed');
  }
  if (pref === 'cpu') {
    await load('@tensorflow/tfjs-backend-cpu');
    if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to start');
    return { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', gpu: false };
  }
  await load('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to start');
  // The wasm backend's training gaps and slow kernels, replaced in its registry (see wasm-kernels.ts).
  await patchWasmKernels();
  return { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', gpu: false };
}

/**
 * Sizes TensorFlow's CPU thread pools for the native backend: `threads` for each op's own work
 * (intra-op) and one to run ops on (TF.js executes them one at a time). TF reads both once, from
 * the process environment, when the backend first loads, so the worker runs this before any
 * slot's trainer process starts (they inherit its environment); values already in the environment
 * win. The pools are TensorFlow's own, one per process: each slot's trainer has its own, and
 * `threads` = cores ÷ slots sizes them so that slots running at once do not oversubscribe the machine, and
 * on the small models TF.js dispatches op by op, one thread per slot does more work per
 * CPU-second than two (`pnpm bench:trainer`).
 */
export function setNativeThreads(threads: number): { intraOp: number; interOp: number } {
  process.env.TF_NUM_INTRAOP_THREADS ??= String(Math.max(1, Math.floor(threads)));
  process.env.TF_NUM_INTEROP_THREADS ??= '1';
  return { intraOp: Number(process.env.TF_NUM_INTRAOP_THREADS), interOp: Number(process.env.TF_NUM_INTEROP_THREADS) };
}

/** Whether the NVIDIA driver reports a GPU (what tfjs-node-gpu needs). */
export function nvidiaGpuPresent(): boolean {
  try {
    return execSync('nvidia-smi -L', { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 })
      .toString()
      .includes('GPU');
  } catch {
    return false;
  }
}

/** The TF.js backend active now (null before one is set): what an error that happens now ran on. */
export const activeBackend = (): string | null => {
  try {
    return tf.getBackend() ?? null;
  } catch {
    return null;
  }
};

/** Tensors alive in the TF.js engine (a leak shows as growth across trials). */
export const liveTensorCount = (): number => tf.memory().numTensors;
