import { readFileSync } from 'node:fs';
import type { NumericsKey } from '@lrsweep/contract';
import * as tf from '@tensorflow/tfjs';
import type { BackendChoice } from './backend';

/** The process's TensorFlow settings that change a native CPU trial's bits (read once, by the caller, from its environment). */
export interface NativeSettings {
  /** TF_NUM_INTRAOP_THREADS; 0 when unset (TensorFlow then sizes its pool itself, and the key says nothing of it). */
  intraOpThreads: number;
  onednn: boolean;
}

// GCC's x86-64-v3 level: the fused kernels' target_clones pick that copy when the CPU has all of these.
const x86v3 = ['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave'];

/** Which copy of the fused kernels this CPU runs (native/fused_ops.c: target_clones x86-64-v3 or default). */
export function fusedKernelIsa(cpuinfo = readCpuinfo()): string {
  const flags = new Set(/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.split(/\s+/) ?? []);
  return x86v3.every((f) => flags.has(f)) ? 'x86-64-v3' : 'default';
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

/** TensorFlow's version from the native binding (only while the `tensorflow` backend is active). */
function tensorflowVersion(): string | undefined {
  try {
    const b = tf.backend() as unknown as { binding?: { TF_Version?: string } };
    return b.binding?.TF_Version;
  } catch {
    return undefined;
  }
}

/**
 * The numerics key of `choice` in this process. The native backend must be the active one (its
 * TensorFlow version comes from the binding); wasm and cpu need only TF.js's version.
 */
export function numericsKeyOf(choice: BackendChoice, native: NativeSettings): NumericsKey {
  const base = { backend: choice.name, gpu: choice.gpu, tfjs: tf.version_core };
  if (choice.name !== 'tensorflow') return base;
  const tfv = tensorflowVersion();
  const withTf = tfv ? { ...base, tf: tfv } : base;
  if (choice.gpu) return withTf;
  const fused = choice.fusedOps?.loaded === true;
  return {
    ...withTf,
    ...(native.intraOpThreads > 0 ? { intraOpThreads: native.intraOpThreads } : {}),
    onednn: native.onednn,
    fusedKernels: fused,
    ...(fused ? { isa: fusedKernelIsa() } : {}),
  };
}
