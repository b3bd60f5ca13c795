import { numericsKeyId } from '@lrsweep/contract';
import { describe, expect, it } from 'vitest';
import { fusedKernelIsa, numericsKeyOf } from './numerics';

describe('numerics keys', () => {
  it('names the fused kernels’ copy a CPU runs: x86-64-v3 only with every flag GCC’s level needs', () => {
    const v3 = 'flags\t\t: fpu sse sse2 avx avx2 bmi1 bmi2 f16c fma abm movbe xsave popcnt\n';
    expect(fusedKernelIsa(`processor\t: 0\n${v3}`)).toBe('x86-64-v3');
    // An AVX2 CPU without MOVBE (some early ones) runs the default copy.
    expect(fusedKernelIsa(v3.replace(' movbe', ''))).toBe('default');
    expect(fusedKernelIsa('')).toBe('default');
  });

  it('keys wasm by TF.js alone and the native CPU by threads, oneDNN and the fused kernels, one line whatever the order', () => {
    const wasm = numericsKeyOf({ name: 'wasm', package: 'p', gpu: false }, { intraOpThreads: 2, onednn: true });
    expect(Object.keys(wasm).sort()).toEqual(['backend', 'gpu', 'tfjs']);
    expect(numericsKeyId(wasm)).toMatch(/^wasm cpu · tfjs \d/);
    const a = { backend: 'tensorflow', gpu: false, tfjs: '4.22.0', tf: '2.21.0', intraOpThreads: 1, onednn: false };
    const b = { onednn: false, intraOpThreads: 1, tf: '2.21.0', tfjs: '4.22.0', gpu: false, backend: 'tensorflow' };
    expect(numericsKeyId(a)).toBe(numericsKeyId(b));
    expect(numericsKeyId(a)).toBe('tensorflow cpu · TF 2.21.0 · tfjs 4.22.0 · 1 thread · oneDNN off');
    // Each setting that changes the bits changes the key.
    for (const other of [
      { intraOpThreads: 2 },
      { onednn: true },
      { fusedKernels: true, isa: 'x86-64-v3' },
      { gpu: true },
    ])
      expect(numericsKeyId({ ...a, ...other })).not.toBe(numericsKeyId(a));
  });
});
