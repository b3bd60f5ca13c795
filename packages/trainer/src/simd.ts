/// <reference path="./webassembly.d.ts" />
import { readFileSync } from 'node:fs';
import wabtInit from 'wabt';

/** The kernels of simd/kernels.wat, on the wasm backend's memory (pointers are byte offsets). */
export interface SimdKernels {
  /** o[b] = a[b]·w[b] for a [batch, m, k], w [batch, k, n], n a multiple of 4. */
  bmm(a: number, w: number, o: number, batch: number, m: number, k: number, n: number): void;
  /** o[j] = Σ_i x[i, j] for x [rows, cols]. */
  colsum(x: number, rows: number, cols: number, o: number): void;
  /** Copies `rows` runs of `bytes` bytes, srcStride / dstStride bytes apart. */
  copyRows(src: number, dst: number, rows: number, bytes: number, srcStride: number, dstStride: number): void;
  /** Gradient of an average pool whose ph×pw windows tile the input (see kernels.wat). */
  avgPoolGrad(dy: number, o: number, rows: number, ph: number, ow: number, pw: number, c: number, scale: number): void;
  /** One Adam step over n floats into new buffers mo, so, wo (see kernels.wat). */
  adam(
    g: number,
    m: number,
    s: number,
    w: number,
    mo: number,
    so: number,
    wo: number,
    n: number,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    sqrtBc2: number,
    eps: number,
    step: number,
    shrink: number,
  ): void;
}

let compiled: Promise<WebAssembly.Module> | undefined;

/**
 * Compiles the WebAssembly text once per process with wabt (the WebAssembly Binary Toolkit's own
 * parser, built for JS): the kernels stay readable source in the repo, with no binary to go stale.
 */
function compile(): Promise<WebAssembly.Module> {
  compiled ??= (async () => {
    const wabt = await wabtInit();
    const source = readFileSync(new URL('./simd/kernels.wat', import.meta.url), 'utf8');
    const parsed = wabt.parseWat('kernels.wat', source, { simd: true, bulk_memory: true });
    try {
      parsed.validate();
      return new WebAssembly.Module(new Uint8Array(parsed.toBinary({}).buffer));
    } finally {
      parsed.destroy();
    }
  })();
  return compiled;
}

/** Instantiates the kernels on `memory` (the wasm backend's, so they work on tensors in place). */
export async function simdKernels(memory: WebAssembly.Memory): Promise<SimdKernels> {
  const instance = new WebAssembly.Instance(await compile(), { env: { memory } });
  return instance.exports as unknown as SimdKernels;
}
