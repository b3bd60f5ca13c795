// How much of a training update is dispatch (tfjs-core and the backend handing each op over: a
// fixed cost per kernel call) and how much is the kernels' own work, per model and backend.
import * as tf from '@tensorflow/tfjs';
import { train } from '@lrsweep/trainer';
import { adamConfig, BATCH, type BenchModel, randomDataset } from '../bench-models';

const STEPS = 8;
const WARMUP = 3;

/** Kernel calls per update of one training step of `m` on the active backend, and the wall ms per update. */
export function kernelCallsPerUpdate(m: BenchModel): { calls: number; msPerUpdate: number } {
  const backend = tf.getBackend();
  let counting = false;
  let calls = 0;
  const kernels = tf.getKernelsForBackend(backend);
  const originals = kernels.map((k) => k.kernelFunc);
  kernels.forEach((k, i) => {
    (k as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => {
      if (counting) calls += 1;
      return originals[i]!(args);
    };
  });
  const times: number[] = [];
  try {
    train(adamConfig(m.spec, 1), randomDataset(m, BATCH * STEPS), {
      onUpdate: ({ step }) => {
        times.push(performance.now());
        counting = step + 1 >= WARMUP;
      },
    });
  } finally {
    kernels.forEach((k, i) => {
      (k as { kernelFunc: tf.KernelFunc }).kernelFunc = originals[i]!;
    });
  }
  const steps = STEPS - WARMUP;
  return { calls: calls / steps, msPerUpdate: (times.at(-1)! - times[WARMUP - 1]!) / steps };
}

/**
 * The cost of one kernel call that does no work to speak of (adding two 1-element tensors, through
 * the same engine and backend path as every op): the dispatch a call pays, in ms (median of 5 runs).
 */
export function dispatchMsPerCall(): number {
  const a = tf.scalar(1);
  const b = tf.scalar(2);
  const runs: number[] = [];
  for (let r = 0; r < 6; r++) {
    const n = 2000;
    const t = performance.now();
    for (let i = 0; i < n; i++) tf.add(a, b).dispose();
    if (r > 0) runs.push((performance.now() - t) / n);
  }
  a.dispose();
  b.dispose();
  return runs.sort((x, y) => x - y)[2]!;
}

/** An update split into dispatch (calls × per-call cost) and the rest (the kernels' work). */
export function dispatchSplit(m: BenchModel) {
  const { calls, msPerUpdate } = kernelCallsPerUpdate(m);
  const perCall = dispatchMsPerCall();
  const dispatchMs = Math.min(msPerUpdate, calls * perCall);
  return { calls, msPerUpdate, perCallUs: perCall * 1000, dispatchMs, kernelMs: msPerUpdate - dispatchMs };
}
