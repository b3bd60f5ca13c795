import type { OptimizerSpec } from '@lrsweep/contract';
import * as tf from '@tensorflow/tfjs';

export type { OptimizerSpec };

export interface OptimizerState {
  t: number;
  slots: Float32Array[];
  /** Running scalars (schedule-free's sum of squared rates). */
  scalars?: number[];
}

/**
 * The rate of one update: one for every variable, or one per variable, in the order the optimizer
 * was made with (μP's per-layer multipliers of the schedule's rate, mup.ts; a packed trial's
 * members each at their own schedule's rate).
 */
export type Rates = number | readonly number[];

/** Variable `i`'s rate. */
const rateAt = (lr: Rates, i: number) => (typeof lr === 'number' ? lr : lr[i]!);

/**
 * An optimizer whose learning rate is an argument of every update, so the schedule's rate is
 * exactly the rate applied. Update rules follow PyTorch (Adam, AdamW, SGD with momentum buffer
 * `b = μ·b + g`, Nesterov `g + μ·b`, weight decay added to the gradient) and, for schedule-free
 * AdamW, the equations of Defazio et al. 2024.
 */
export interface Optimizer {
  /** Applies one update with rate `lr` (per variable where it is a list); call inside `tf.tidy`. */
  apply(grads: Record<string, tf.Tensor>, lr: Rates): void;
  /** Puts the point to evaluate in the variables; the returned function puts training's back. */
  swapForEval?(): () => void;
  exportState(): OptimizerState;
  importState(state: OptimizerState): void;
  dispose(): void;
}

/**
 * A fused Adam step a backend may register (wasm does: wasm-simd-kernels.ts): inputs g, m, s, w;
 * outputs m', s', w', computed as the composed ops in adam() below compute them.
 */
export const ADAM_KERNEL = 'LrsweepAdam';

/** Attributes of the fused Adam step. */
export interface AdamAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** lr / (1 − β1ᵗ) */
  step: number;
  /** √(1 − β2ᵗ) */
  sqrtBc2: number;
  /** AdamW's decoupled decay factor 1 − lr·λ (1 for Adam). */
  shrink: number;
}

const slotLike = (v: tf.Variable) => tf.tidy(() => tf.variable(tf.zerosLike(v), false));
const copyOf = (v: tf.Variable) => tf.tidy(() => tf.variable(v.clone(), false));
const readSlots = (vs: tf.Variable[]) => vs.map((v) => Float32Array.from(v.dataSync() as Float32Array));
const writeSlots = (vs: tf.Variable[], data: Float32Array[]) =>
  vs.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(data[i]!, v.shape))));

export function createOptimizer(spec: OptimizerSpec, variables: tf.Variable[]): Optimizer {
  switch (spec.kind) {
    case 'adam':
    case 'adamw':
      return adam(spec, variables);
    case 'sgd':
      return sgd(spec, variables);
    case 'schedule_free_adamw':
      return scheduleFree(spec, variables);
  }
}

type AdamSpec = Extract<OptimizerSpec, { kind: 'adam' | 'adamw' }>;

/**
 * Adam on the backend the trial trains on (set before its model is built): the fused kernel one
 * variable at a time where the backend registers it (wasm), else the composed ops over all the
 * variables at once (adamFlat).
 */
function adam(spec: AdamSpec, vars: tf.Variable[]): Optimizer {
  return tf.getKernel(ADAM_KERNEL, tf.getBackend()) !== undefined || vars.length < 2
    ? adamPerVariable(spec, vars)
    : adamFlat(spec, vars);
}

/**
 * Adam with its moments in one flat slot each: the update is a dozen ops over every parameter
 * instead of a dozen per variable, then one split and a subtraction per variable. TF.js runs ops
 * one at a time (~20 µs of dispatch each on the native backend), and a ViT's 31 variables took
 * ~600 kernel calls per update this way per variable, ~190 flat. The arithmetic is the same,
 * element by element and in the same order, as adamPerVariable's; checkpoints hold
 * per-variable slots either way (a checkpoint resumes on any backend).
 */
function adamFlat(spec: AdamSpec, vars: tf.Variable[]): Optimizer {
  const sizes = vars.map((v) => v.size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const m = tf.tidy(() => tf.variable(tf.zeros([total]), false));
  const s = tf.tidy(() => tf.variable(tf.zeros([total]), false));
  const wd = spec.weightDecay ?? 0;
  const decoupled = spec.kind === 'adamw';
  let t = 0;
  /** One flat slot's values, cut into per-variable arrays. */
  const perVariable = (flat: tf.Variable) => {
    const data = flat.dataSync() as Float32Array;
    let at = 0;
    return sizes.map((n) => data.slice(at, (at += n)));
  };
  const fill = (flat: tf.Variable, parts: Float32Array[]) => {
    const data = new Float32Array(total);
    let at = 0;
    for (const part of parts) data.set(part, at), (at += part.length);
    tf.tidy(() => flat.assign(tf.tensor1d(data)));
  };
  return {
    apply(grads, lr) {
      t += 1;
      const bc1 = 1 - spec.beta1 ** t;
      const bc2 = 1 - spec.beta2 ** t;
      // Adam's weight decay is L2 in the gradient; AdamW's shrinks the weights directly.
      // (A reshape is a kernel call too: vectors, the biases and norms, skip it.)
      const flat = (x: tf.Tensor) => (x.rank === 1 ? x : tf.reshape(x, [-1]));
      const g = tf.concat(
        vars.map((v) => flat(wd && !decoupled ? tf.add(grads[v.name]!, tf.mul(v, wd)) : grads[v.name]!)),
      );
      const mi = tf.add(tf.mul(m, spec.beta1), tf.mul(g, 1 - spec.beta1));
      const si = tf.add(tf.mul(s, spec.beta2), tf.mul(tf.square(g), 1 - spec.beta2));
      m.assign(mi);
      s.assign(si);
      const denom = tf.add(tf.div(tf.sqrt(si), Math.sqrt(bc2)), spec.epsilon);
      // One rate for all: scaled before the split, as ever; a rate per variable: after it.
      const steps =
        typeof lr === 'number'
          ? tf.split(tf.mul(tf.div(mi, denom), lr / bc1), sizes)
          : tf.split(tf.div(mi, denom), sizes).map((x, i) => tf.mul(x, lr[i]! / bc1));
      vars.forEach((v, i) => {
        const shrink = decoupled && wd ? 1 - rateAt(lr, i) * wd : 1;
        v.assign(
          tf.sub(shrink !== 1 ? tf.mul(v, shrink) : v, v.rank === 1 ? steps[i]! : tf.reshape(steps[i]!, v.shape)),
        );
      });
    },
    exportState: () => ({ t, slots: [...perVariable(m), ...perVariable(s)] }),
    importState(state) {
      t = state.t;
      fill(m, state.slots.slice(0, vars.length));
      fill(s, state.slots.slice(vars.length));
    },
    dispose() {
      m.dispose();
      s.dispose();
    },
  };
}

function adamPerVariable(spec: AdamSpec, vars: tf.Variable[]): Optimizer {
  const m = vars.map(slotLike);
  const s = vars.map(slotLike);
  const wd = spec.weightDecay ?? 0;
  const decoupled = spec.kind === 'adamw';
  let t = 0;
  return {
    apply(grads, lr) {
      t += 1;
      const bc1 = 1 - spec.beta1 ** t;
      const bc2 = 1 - spec.beta2 ** t;
      const fused = tf.getKernel(ADAM_KERNEL, tf.getBackend()) !== undefined;
      vars.forEach((v, i) => {
        const rate = rateAt(lr, i);
        let g = grads[v.name]!;
        // Adam's weight decay is L2 in the gradient; AdamW's shrinks the weights directly.
        if (wd && !decoupled) g = tf.add(g, tf.mul(v, wd));
        const shrink = decoupled && wd ? 1 - rate * wd : 1;
        if (fused) {
          // One fused pass (wasm): the same arithmetic as below, in the same order.
          const attrs: AdamAttrs = {
            beta1: spec.beta1,
            beta2: spec.beta2,
            epsilon: spec.epsilon,
            step: rate / bc1,
            sqrtBc2: Math.sqrt(bc2),
            shrink,
          };
          const [mi, si, wi] = tf
            .engine()
            .runKernel(
              ADAM_KERNEL,
              { g, m: m[i]!, s: s[i]!, w: v },
              attrs as unknown as tf.NamedAttrMap,
            ) as tf.Tensor[];
          m[i]!.assign(mi!);
          s[i]!.assign(si!);
          v.assign(wi!);
          return;
        }
        const base: tf.Tensor = shrink !== 1 ? tf.mul(v, shrink) : v;
        const mi = tf.add(tf.mul(m[i]!, spec.beta1), tf.mul(g, 1 - spec.beta1));
        const si = tf.add(tf.mul(s[i]!, spec.beta2), tf.mul(tf.square(g), 1 - spec.beta2));
        m[i]!.assign(mi);
        s[i]!.assign(si);
        const denom = tf.add(tf.div(tf.sqrt(si), Math.sqrt(bc2)), spec.epsilon);
        v.assign(tf.sub(base, tf.mul(tf.div(mi, denom), rate / bc1)));
      });
    },
    exportState: () => ({ t, slots: readSlots([...m, ...s]) }),
    importState(state) {
      t = state.t;
      writeSlots([...m, ...s], state.slots);
    },
    dispose() {
      for (const x of [...m, ...s]) x.dispose();
    },
  };
}

function sgd(spec: Extract<OptimizerSpec, { kind: 'sgd' }>, vars: tf.Variable[]): Optimizer {
  const buf = spec.momentum > 0 ? vars.map(slotLike) : [];
  const wd = spec.weightDecay ?? 0;
  let t = 0;
  return {
    apply(grads, lr) {
      vars.forEach((v, i) => {
        let d = grads[v.name]!;
        if (wd) d = tf.add(d, tf.mul(v, wd));
        if (spec.momentum > 0) {
          // PyTorch starts the buffer at the first gradient.
          const b = t === 0 ? d : tf.add(tf.mul(buf[i]!, spec.momentum), d);
          buf[i]!.assign(b);
          d = spec.nesterov ? tf.add(d, tf.mul(b, spec.momentum)) : b;
        }
        v.assign(tf.sub(v, tf.mul(d, rateAt(lr, i))));
      });
      t += 1;
    },
    exportState: () => ({ t, slots: readSlots(buf) }),
    importState(state) {
      t = state.t;
      writeSlots(buf, state.slots);
    },
    dispose() {
      for (const x of buf) x.dispose();
    },
  };
}

/**
 * Schedule-free AdamW (Defazio et al. 2024, "The Road Less Scheduled"). The variables hold y, the
 * point where gradients are taken; z takes the Adam steps; x, the average evaluated, follows z with
 * weights c = lr_t² / Σ lr_i²:
 *   v ← β₂v + (1−β₂)g²;  lr_t = γ_t·√(1−β₂ᵗ)
 *   z ← z − lr_t·(g / (√v + ε) + λ·y)
 *   x ← (1 − c)·x + c·z;  y ← (1 − β₁)·z + β₁·x
 */
function scheduleFree(spec: Extract<OptimizerSpec, { kind: 'schedule_free_adamw' }>, vars: tf.Variable[]): Optimizer {
  const v2 = vars.map(slotLike);
  const z = vars.map(copyOf);
  const x = vars.map(copyOf);
  let t = 0;
  let sumLr2 = 0;
  return {
    apply(grads, rates) {
      // Its averaging weights follow the one rate's history: a rate per variable has no meaning here.
      if (typeof rates !== 'number') throw new Error('schedule-free AdamW takes one rate for every variable');
      const gamma = rates;
      t += 1;
      const lr = gamma * Math.sqrt(1 - spec.beta2 ** t);
      sumLr2 += lr * lr;
      const c = sumLr2 > 0 ? (lr * lr) / sumLr2 : 1;
      vars.forEach((y, i) => {
        const g = grads[y.name]!;
        const vi = tf.add(tf.mul(v2[i]!, spec.beta2), tf.mul(tf.square(g), 1 - spec.beta2));
        v2[i]!.assign(vi);
        const step = tf.add(tf.div(g, tf.add(tf.sqrt(vi), spec.epsilon)), tf.mul(y, spec.weightDecay));
        const zi = tf.sub(z[i]!, tf.mul(step, lr));
        z[i]!.assign(zi);
        const xi = tf.add(tf.mul(x[i]!, 1 - c), tf.mul(zi, c));
        x[i]!.assign(xi);
        y.assign(tf.add(tf.mul(zi, 1 - spec.beta1), tf.mul(xi, spec.beta1)));
      });
    },
    swapForEval() {
      const y = readSlots(vars);
      vars.forEach((v, i) => v.assign(x[i]!));
      return () => writeSlots(vars, y);
    },
    exportState: () => ({ t, slots: readSlots([...v2, ...z, ...x]), scalars: [sumLr2] }),
    importState(state) {
      t = state.t;
      sumLr2 = state.scalars?.[0] ?? 0;
      writeSlots([...v2, ...z, ...x], state.slots);
    },
    dispose() {
      for (const s of [...v2, ...z, ...x]) s.dispose();
    },
  };
}

/**
 * Stochastic weight averaging (Izmailov et al. 2018): from update `start` on, a running mean of
 * the weights after every update; evaluations then use the mean.
 */
export function withSwa(inner: Optimizer, vars: tf.Variable[], start: number): Optimizer {
  const avg = vars.map(slotLike);
  let count = 0;
  let t = 0;
  return {
    apply(grads, lr) {
      inner.apply(grads, lr);
      t += 1;
      if (t > start) {
        count += 1;
        vars.forEach((v, i) => avg[i]!.assign(tf.add(avg[i]!, tf.div(tf.sub(v, avg[i]!), count))));
      }
    },
    swapForEval() {
      if (count === 0) return inner.swapForEval?.() ?? (() => {});
      const w = readSlots(vars);
      vars.forEach((v, i) => v.assign(avg[i]!));
      return () => writeSlots(vars, w);
    },
    exportState() {
      const s = inner.exportState();
      return { t: s.t, slots: [...s.slots, ...readSlots(avg)], scalars: [...(s.scalars ?? []), count, t] };
    },
    importState(state) {
      const own = avg.length;
      inner.importState({
        t: state.t,
        slots: state.slots.slice(0, state.slots.length - own),
        scalars: state.scalars?.slice(0, -2),
      });
      writeSlots(avg, state.slots.slice(state.slots.length - own));
      [count, t] = state.scalars!.slice(-2) as [number, number];
    },
    dispose() {
      inner.dispose();
      for (const a of avg) a.dispose();
    },
  };
}

/** Scales all gradients so their global L2 norm is at most `maxNorm` (inside `tf.tidy`). */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): Record<string, tf.Tensor> {
  const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
  const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
  return Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)]));
}
