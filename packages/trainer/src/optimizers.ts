import * as tf from '@tensorflow/tfjs';

/** A zero-initialised slot shaped like `v` (made in tidy so its initial tensor is released). */
const slotLike = (v: tf.Variable) => tf.tidy(() => tf.variable(tf.zerosLike(v), false));

export type OptimizerSpec =
  | { kind: 'adam'; beta1: number; beta2: number; epsilon: number }
  | { kind: 'sgd'; momentum: number };

/**
 * An optimizer whose learning rate is an argument of every update, so the schedule's rate is
 * exactly the rate applied. Update rules follow PyTorch's Adam and SGD (momentum buffer
 * `b = μ·b + g`, step `−lr·b`).
 */
export interface Optimizer {
  /** Applies one update with rate `lr`; call inside `tf.tidy`. */
  apply(grads: Record<string, tf.Tensor>, lr: number): void;
  /** Its state (step count, slot values), for checkpoints. */
  exportState(): OptimizerState;
  importState(state: OptimizerState): void;
  dispose(): void;
}

export interface OptimizerState {
  t: number;
  slots: Float32Array[];
}

const readSlots = (vs: tf.Variable[]) => vs.map((v) => v.dataSync() as Float32Array).map((a) => Float32Array.from(a));
const writeSlots = (vs: tf.Variable[], data: Float32Array[]) =>
  vs.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(data[i]!, v.shape))));

export function createOptimizer(spec: OptimizerSpec, variables: tf.Variable[]): Optimizer {
  return spec.kind === 'adam' ? adam(spec, variables) : sgd(spec, variables);
}

function adam(spec: Extract<OptimizerSpec, { kind: 'adam' }>, vars: tf.Variable[]): Optimizer {
  const m = vars.map(slotLike);
  const s = vars.map(slotLike);
  let t = 0;
  return {
    apply(grads, lr) {
      t += 1;
      const bc1 = 1 - spec.beta1 ** t;
      const bc2 = 1 - spec.beta2 ** t;
      vars.forEach((v, i) => {
        const g = grads[v.name]!;
        const mi = tf.add(tf.mul(m[i]!, spec.beta1), tf.mul(g, 1 - spec.beta1));
        const si = tf.add(tf.mul(s[i]!, spec.beta2), tf.mul(tf.square(g), 1 - spec.beta2));
        m[i]!.assign(mi);
        s[i]!.assign(si);
        const denom = tf.add(tf.div(tf.sqrt(si), Math.sqrt(bc2)), spec.epsilon);
        v.assign(tf.sub(v, tf.mul(tf.div(mi, denom), lr / bc1)));
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
  let first = true;
  let t = 0;
  return {
    apply(grads, lr) {
      vars.forEach((v, i) => {
        let d = grads[v.name]!;
        if (spec.momentum > 0) {
          // PyTorch starts the buffer at the first gradient.
          const b = first ? d : tf.add(tf.mul(buf[i]!, spec.momentum), d);
          buf[i]!.assign(b);
          d = b;
        }
        v.assign(tf.sub(v, tf.mul(d, lr)));
      });
      first = false;
      t += 1;
    },
    exportState: () => ({ t, slots: readSlots(buf) }),
    importState(state) {
      t = state.t;
      first = t === 0;
      writeSlots(buf, state.slots);
    },
    dispose() {
      for (const x of buf) x.dispose();
    },
  };
}
