import { describe, expect, it } from 'vitest';
import { selectBackend, setNativeThreads } from './backend';

/** An importer that knows only some packages (the native ones cannot be installed here). */
const only =
  (installed: string[], loaded: string[] = []) =>
  async (name: string) => {
    loaded.push(name);
    if (!installed.includes(name)) throw new Error(`Cannot find package '${name}'`);
    return import(/* @vite-ignore */ name);
  };

describe('backend selection', () => {
  it('auto falls back to wasm when neither native package is installed, trying GPU, then CPU native, first', async () => {
    const loaded: string[] = [];
    const r = await selectBackend('auto', {
      load: only(['@tensorflow/tfjs-backend-wasm'], loaded),
      detectGpu: () => true,
    });
    expect(r).toEqual({ name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', gpu: false });
    expect(loaded).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm']);
  });

  it('auto does not load tfjs-node-gpu when no GPU is seen', async () => {
    const loaded: string[] = [];
    await selectBackend('auto', { load: only(['@tensorflow/tfjs-backend-wasm'], loaded), detectGpu: () => false });
    expect(loaded).not.toContain('@tensorflow/tfjs-node-gpu');
  });

  it('an explicit native choice that is not installed is an error that says so', async () => {
    await expect(selectBackend('tensorflow-gpu', { load: only([]), detectGpu: () => true })).rejects.toThrow(
      /tfjs-node-gpu is not installed or sees no GPU/,
    );
    await expect(selectBackend('tensorflow', { load: only([]) })).rejects.toThrow(/tfjs-node is not installed/);
  });

  it('cpu only when asked', async () => {
    expect((await selectBackend('cpu', { load: only(['@tensorflow/tfjs-backend-cpu']) })).name).toBe('cpu');
    expect((await selectBackend('wasm', { load: only(['@tensorflow/tfjs-backend-wasm']) })).name).toBe('wasm');
  });
});

describe('setNativeThreads', () => {
  it('sizes the native thread pools unless the environment already does, and says what holds', () => {
    const saved = { intra: process.env.TF_NUM_INTRAOP_THREADS, inter: process.env.TF_NUM_INTEROP_THREADS };
    try {
      delete process.env.TF_NUM_INTRAOP_THREADS;
      delete process.env.TF_NUM_INTEROP_THREADS;
      expect(setNativeThreads(2.7)).toEqual({ intraOp: 2, interOp: 1 });
      expect(process.env.TF_NUM_INTRAOP_THREADS).toBe('2');
      // A value already set (an operator's) wins over the default.
      expect(setNativeThreads(0)).toEqual({ intraOp: 2, interOp: 1 });
      delete process.env.TF_NUM_INTRAOP_THREADS;
      expect(setNativeThreads(0)).toEqual({ intraOp: 1, interOp: 1 });
    } finally {
      for (const [k, v] of [
        ['TF_NUM_INTRAOP_THREADS', saved.intra],
        ['TF_NUM_INTEROP_THREADS', saved.inter],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
