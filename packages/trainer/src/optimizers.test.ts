import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from './backend';
import { clipByGlobalNorm, createOptimizer, type OptimizerSpec, withSwa } from './optimizers';

beforeAll(async () => {
  await selectBackend('cpu', { load: (n) => import(/* @vite-ignore */ n) });
});

const target = [1, -2];
const start = [0.5, 0.25];
const lrs = [0.1, 0.05, 0.2, 0.1];

/** Runs an optimizer on f(w) = ½‖w − target‖² (gradient w − target); returns w after each step. */
function trajectory(
  spec: OptimizerSpec,
  wrap?: (o: ReturnType<typeof createOptimizer>, vars: tf.Variable[]) => ReturnType<typeof createOptimizer>,
) {
  const w = tf.variable(tf.tensor1d(start), true, `w${Math.random()}`);
  let opt = createOptimizer(spec, [w]);
  if (wrap) opt = wrap(opt, [w]);
  const out: number[][] = [];
  for (const lr of lrs) {
    tf.tidy(() => opt.apply({ [w.name]: tf.sub(w, tf.tensor1d(target)) }, lr));
    out.push(Array.from(w.dataSync()));
  }
  const evalPoint = opt.swapForEval
    ? (() => {
        const restore = opt.swapForEval!();
        const p = Array.from(w.dataSync());
        restore();
        return p;
      })()
    : null;
  opt.dispose();
  w.dispose();
  return { out, evalPoint };
}

/** The same, by hand, coordinate-wise in float64. */
function byHand(step: (w: number, g: number, lr: number, s: Record<string, number>, k: number) => number) {
  return start.map((w0, j) => {
    const s: Record<string, number> = {};
    let w = w0;
    return lrs.map((lr, k) => (w = step(w, w - target[j]!, lr, s, k + 1)));
  });
}
const transpose = (m: number[][]) => m[0]!.map((_, i) => m.map((r) => r[i]!));
const expectClose = (a: number[][], b: number[][]) =>
  a.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(b[i]![j]!, 5)));

describe('optimizers match their published update rules', () => {
  it('SGD with momentum, Nesterov and weight decay (PyTorch)', () => {
    const mu = 0.9;
    const wd = 0.01;
    const want = byHand((w, g0, lr, s, k) => {
      const g = g0 + wd * w;
      s.b = k === 1 ? g : mu * s.b! + g;
      return w - lr * (g + mu * s.b);
    });
    expectClose(trajectory({ kind: 'sgd', momentum: mu, nesterov: true, weightDecay: wd }).out, transpose(want));
  });

  it('Adam with L2 weight decay, and AdamW with decoupled decay', () => {
    const [b1, b2, eps, wd] = [0.9, 0.999, 1e-8, 0.1];
    const adamStep =
      (decoupled: boolean) => (w: number, g0: number, lr: number, s: Record<string, number>, k: number) => {
        const g = decoupled ? g0 : g0 + wd * w;
        s.m = b1 * (s.m ?? 0) + (1 - b1) * g;
        s.v = b2 * (s.v ?? 0) + (1 - b2) * g * g;
        const base = decoupled ? w * (1 - lr * wd) : w;
        return base - (lr * s.m) / (1 - b1 ** k) / (Math.sqrt(s.v) / Math.sqrt(1 - b2 ** k) + eps);
      };
    expectClose(
      trajectory({ kind: 'adam', beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd }).out,
      transpose(byHand(adamStep(false))),
    );
    expectClose(
      trajectory({ kind: 'adamw', beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd }).out,
      transpose(byHand(adamStep(true))),
    );
  });

  it('schedule-free AdamW follows Defazio et al. (2024) and evaluates at the average x', () => {
    const [b1, b2, eps, wd] = [0.9, 0.999, 1e-8, 0.01];
    const xs: number[] = [];
    const want = byHand((y, g, gamma, s, k) => {
      s.z ??= y;
      s.x ??= y;
      s.v = b2 * (s.v ?? 0) + (1 - b2) * g * g;
      const lr = gamma * Math.sqrt(1 - b2 ** k);
      s.sum = (s.sum ?? 0) + lr * lr;
      const c = (lr * lr) / s.sum;
      s.z = s.z - lr * (g / (Math.sqrt(s.v) + eps) + wd * y);
      s.x = (1 - c) * s.x + c * s.z;
      if (k === lrs.length) xs.push(s.x);
      return (1 - b1) * s.z + b1 * s.x;
    });
    const r = trajectory({ kind: 'schedule_free_adamw', beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd });
    expectClose(r.out, transpose(want));
    expectClose([r.evalPoint!], [xs]);
  });

  it('SWA averages the weights after its start and evaluates the average', () => {
    const r = trajectory({ kind: 'sgd', momentum: 0, nesterov: false, weightDecay: 0 }, (o, vars) =>
      withSwa(o, vars, 2),
    );
    const mean = r.out.slice(2).reduce((a, w) => a.map((v, i) => v + w[i]! / 2), [0, 0]);
    expectClose([r.evalPoint!], [mean]);
  });

  it('clips gradients to a global norm', () => {
    tf.tidy(() => {
      const g = { a: tf.tensor1d([3, 0]), b: tf.tensor1d([0, 4]) };
      const c = clipByGlobalNorm(g, 1);
      expect(Array.from(c.a!.dataSync())[0]).toBeCloseTo(0.6, 5);
      expect(Array.from(c.b!.dataSync())[1]).toBeCloseTo(0.8, 5);
      const kept = clipByGlobalNorm(g, 10);
      expect(Array.from(kept.b!.dataSync())).toEqual([0, 4]);
    });
  });
});

describe('Adam over several variables at once (the native backend’s flat moments)', () => {
  // Two variables of different shapes: one optimizer over both (flat moments, on a backend with
  // no fused kernel, as here), and one per variable (a single variable updates on its own).
  const shapes: [number[], number[]] = [[2, 3], [4]];
  const init = (k: number) =>
    shapes.map((sh, i) =>
      tf.variable(
        tf.tensor(
          Array.from({ length: sh.reduce((a, b) => a * b, 1) }, (_, j) => Math.sin(7 * i + j + k)),
          sh,
        ),
        true,
        `v${i}-${k}-${Math.random()}`,
      ),
    );
  const grad = (v: tf.Variable, step: number) => tf.mul(tf.cos(tf.add(v, step)), 0.5);

  for (const spec of [
    { kind: 'adam', beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.01 },
    { kind: 'adamw', beta1: 0.8, beta2: 0.999, epsilon: 1e-6, weightDecay: 0.05 },
  ] as OptimizerSpec[]) {
    it(`${spec.kind}: every value as one variable at a time gives, and checkpoints that resume either way`, () => {
      const together = init(0);
      const apart = init(0);
      const flat = createOptimizer(spec, together);
      const single = apart.map((v) => createOptimizer(spec, [v]));
      for (const [k, lr] of lrs.entries()) {
        tf.tidy(() => flat.apply(Object.fromEntries(together.map((v) => [v.name, grad(v, k)])), lr));
        apart.forEach((v, i) => tf.tidy(() => single[i]!.apply({ [v.name]: grad(v, k) }, lr)));
      }
      together.forEach((v, i) => expect(Array.from(v.dataSync())).toEqual(Array.from(apart[i]!.dataSync())));
      // Its checkpoint holds per-variable slots, m of each then s of each, as the per-variable form's.
      const state = flat.exportState();
      expect(state.t).toBe(lrs.length);
      const [m0, s0] = single[0]!.exportState().slots;
      const [m1, s1] = single[1]!.exportState().slots;
      expect(state.slots.map((x) => Array.from(x))).toEqual([m0, m1, s0, s1].map((x) => Array.from(x!)));
      // Resumed from it, a new flat optimizer goes on exactly as the first one does.
      const resumed = init(1);
      resumed.forEach((v, i) => v.assign(together[i]!));
      const again = createOptimizer(spec, resumed);
      again.importState(state);
      tf.tidy(() => flat.apply(Object.fromEntries(together.map((v) => [v.name, grad(v, 9)])), 0.03));
      tf.tidy(() => again.apply(Object.fromEntries(resumed.map((v) => [v.name, grad(v, 9)])), 0.03));
      resumed.forEach((v, i) => expect(Array.from(v.dataSync())).toEqual(Array.from(together[i]!.dataSync())));
      for (const o of [flat, again, ...single]) o.dispose();
      for (const v of [...together, ...apart, ...resumed]) v.dispose();
    });
  }
});

describe('a rate per variable (μP’s multipliers, a packed trial’s members)', () => {
  const grad = (v: tf.Variable, t: number[]) => tf.sub(v, tf.tensor1d(t));
  /** Two variables trained together at rates [k₁·lr, k₂·lr], and each alone at its own rate. */
  function together(spec: OptimizerSpec, k: [number, number]) {
    const make = (x: number[]) => tf.variable(tf.tensor1d(x), true, `r${Math.random()}`);
    const [a, b, a1, b1] = [make(start), make([0.3, -0.7, 2]), make(start), make([0.3, -0.7, 2])];
    const both = createOptimizer(spec, [a, b]);
    const alone = [createOptimizer(spec, [a1]), createOptimizer(spec, [b1])];
    for (const lr of lrs)
      tf.tidy(() => {
        both.apply({ [a.name]: grad(a, target), [b.name]: grad(b, [1, 1, 1]) }, [k[0] * lr, k[1] * lr]);
        alone[0]!.apply({ [a1.name]: grad(a1, target) }, k[0] * lr);
        alone[1]!.apply({ [b1.name]: grad(b1, [1, 1, 1]) }, k[1] * lr);
      });
    const out = [a, b, a1, b1].map((v) => Array.from(v.dataSync()));
    for (const o of [both, ...alone]) o.dispose();
    for (const v of [a, b, a1, b1]) v.dispose();
    return out;
  }
  const specs: OptimizerSpec[] = [
    { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 },
    { kind: 'adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1 },
    { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.01 },
  ];
  for (const spec of specs)
    it(`${spec.kind}: each variable moves as it would alone at its own rate`, () => {
      const [a, b, a1, b1] = together(spec, [1, 0.25]);
      expectClose([a!], [a1!]);
      expectClose([b!], [b1!]);
      // …and the rates differ in effect: at a quarter of the rate, b moved less than at the full one.
      const [, bFull] = together(spec, [1, 1]);
      expect(Math.abs(b![2]! - 2)).toBeLessThan(Math.abs(bFull![2]! - 2));
    });
  it('schedule-free AdamW refuses a rate per variable', () => {
    const w = tf.variable(tf.tensor1d(start), true, `sf${Math.random()}`);
    const opt = createOptimizer(
      { kind: 'schedule_free_adamw', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
      [w],
    );
    expect(() => tf.tidy(() => opt.apply({ [w.name]: grad(w, target) }, [0.1]))).toThrow(/one rate/);
    opt.dispose();
    w.dispose();
  });
});
