// Helpers for kernels that replace or add to the TF.js wasm backend's, through its registry.
/// <reference path="./webassembly.d.ts" />
import * as tf from '@tensorflow/tfjs';

export type KernelArgs = Parameters<tf.KernelConfig['kernelFunc']>[0];
export type Backend = tf.KernelBackend;
export type Info = tf.TensorInfo;
export type WasmBackend = tf.KernelBackend & {
  disposeData(dataId: object): boolean;
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(info: Info): Float32Array;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { asm?: { memory?: WebAssembly.Memory } };
};

/** Byte offset of a tensor's data in the wasm backend's memory. */
export const offsetOf = (backend: tf.KernelBackend, i: Info) =>
  (backend as WasmBackend).dataIdMap.get(i.dataId).memoryOffset;

export const run = (kernel: string, args: KernelArgs): Info => tf.getKernel(kernel, 'wasm')!.kernelFunc(args) as Info;

/** Runs `f` with a scratch list; every TensorInfo put in it is freed afterwards. */
export function withScratch<T>(backend: tf.KernelBackend, f: (keep: (i: Info) => Info) => T): T {
  const scratch: Info[] = [];
  try {
    return f((i) => (scratch.push(i), i));
  } finally {
    for (const i of scratch) (backend as WasmBackend).disposeData(i.dataId);
  }
}

/** A wasm kernel replaced by `f`, which may hand cases it does not cover to the original. */
export function override(
  name: string,
  f: (args: KernelArgs, original: tf.KernelConfig) => Info | Info[],
): tf.KernelConfig {
  const original = tf.getKernel(name, 'wasm')!;
  return { ...original, kernelFunc: (args) => f(args, original) };
}

/** Swaps the last two axes. */
export const swapLast = (x: Info, backend: tf.KernelBackend) => {
  const r = x.shape.length;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  return run('Transpose', { inputs: { x }, backend, attrs: { perm } });
};
