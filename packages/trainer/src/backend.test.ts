import { describe, expect, it } from 'vitest';
import { selectBackend } from './backend';

/** An importer that knows only some packages (the native ones cannot be installed here). */
const only = (installed: string[], loaded: string[] = []) => async (name: string) => {
  loaded.push(name);
  if (!installed.includes(name)) throw new Error(`Cannot find package '${name}'`);
  return import(/* @vite-ignore */ name);
};

describe('backend selection', () => {
  it('auto falls back to wasm when neither native package is installed, trying GPU, then CPU native, first', async () => {
    const loaded: string[] = [];
    const r = await selectBackend('auto', { load: only(['@tensorflow/tfjs-backend-wasm'], loaded), detectGpu: () => true });
    expect(r).toEqual({ name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', gpu: false });
    expect(loaded).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm']);
  });

  it('auto does not load tfjs-node-gpu when no GPU is seen', async () => {
    const loaded: string[] = [];
    await selectBackend('auto', { load: only(['@tensorflow/tfjs-backend-wasm'], loaded), detectGpu: () => false });
    expect(loaded).not.toContain('@tensorflow/tfjs-node-gpu');
  });

  it('an explicit native choice that is not installed is an error that says so', async () => {
    await expect(selectBackend('tensorflow-gpu', { load: only([]), detectGpu: () => true })).rejects.toThrow(/tfjs-node-gpu is not installed or sees no GPU/);
    await expect(selectBackend('tensorflow', { load: only([]) })).rejects.toThrow(/tfjs-node is not installed/);
  });

  it('cpu only when asked', async () => {
    expect((await selectBackend('cpu', { load: only(['@tensorflow/tfjs-backend-cpu']) })).name).toBe('cpu');
    expect((await selectBackend('wasm', { load: only(['@tensorflow/tfjs-backend-wasm']) })).name).toBe('wasm');
  });
});
