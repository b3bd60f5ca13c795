import { cooldownOf, type ScheduleSpec, type Warmup } from './schema';

/** A schedule running on its own clock: `lrAt(t)` for update `t`, `observe` for evaluations. */
export interface ScheduleState {
  lrAt(t: number): number;
  /** Feeds an evaluation metric recorded at `step` updates (stateful kinds only). */
  observe(metric: number, step: number): void;
}

type Stateless = (t: number) => number;

const stateless = (f: Stateless): ScheduleState => ({ lrAt: f, observe: () => {} });

/**
 * Builds the rate function of `spec` with peak `eta` over `horizon` updates, its warmup included.
 * Under `interval: "epoch"` update `t` gets the rate the whole schedule gives at the start of its
 * epoch, `floor(t/S)·S` (PyTorch's once-per-epoch `scheduler.step()`).
 */
export function buildSchedule(spec: ScheduleSpec, eta: number, horizon: number, stepsPerEpoch?: number): ScheduleState {
  const s = buildUnclamped(spec, eta, horizon);
  // Closed forms such as lo + (η − lo) can round one ulp past η; no schedule may exceed it.
  const clamp = (v: number) => Math.min(eta, Math.max(0, v));
  if (spec.interval === 'epoch') {
    if (!stepsPerEpoch) throw new Error('interval: epoch needs the updates per epoch');
    const S = stepsPerEpoch;
    return { lrAt: (t) => clamp(s.lrAt(Math.floor(t / S) * S)), observe: s.observe };
  }
  return { lrAt: (t) => clamp(s.lrAt(t)), observe: s.observe };
}

function buildUnclamped(spec: ScheduleSpec, eta: number, horizon: number): ScheduleState {
  const w = spec.warmup;
  const warmed =
    !w || w.steps === 0
      ? buildCore(spec, eta, horizon, 0)
      : withWarmup(w, eta, buildCore(spec, eta, horizon - w.steps, w.steps));
  const c = cooldownOf(spec);
  return c ? withCooldown(c.steps, c.shape, horizon, warmed) : warmed;
}

/**
 * The last `steps` updates of the horizon cool the rate from `r(s)`, the rate at the cooldown's
 * start `s = T − steps`, to zero: update `t ≥ s` at `r(s)·f((t − s)/steps)` with wsd's shapes, so a
 * constant schedule with a cooldown is exactly wsd with `minFactor` 0.
 */
function withCooldown(
  steps: number,
  shape: 'linear' | 'cosine' | '1-sqrt',
  horizon: number,
  inner: ScheduleState,
): ScheduleState {
  const start = horizon - steps;
  return {
    lrAt: (t) =>
      t < start ? inner.lrAt(t) : inner.lrAt(start) * decayShapeFactor(shape, Math.min(1, (t - start) / steps)),
    observe: inner.observe,
  };
}

function withWarmup(w: Warmup, eta: number, inner: ScheduleState): ScheduleState {
  const { steps, startFactor: s } = w;
  return {
    lrAt: (t) => (t < steps ? eta * (s + ((1 - s) * t) / steps) : inner.lrAt(t - steps)),
    // Evaluations during the warmup are not observed by the schedule after it.
    observe: (metric, step) => {
      if (step >= steps) inner.observe(metric, step - steps);
    },
  };
}

function buildCore(spec: ScheduleSpec, eta: number, horizon: number, warmupSteps: number): ScheduleState {
  switch (spec.kind) {
    case 'constant':
      return stateless(() => eta);
    case 'step':
      return stateless((t) => eta * spec.gamma ** Math.floor(t / spec.stepSize));
    case 'multistep': {
      const ms = spec.milestones;
      return stateless((t) => eta * spec.gamma ** countAtMost(ms, t));
    }
    case 'exponential': {
      // gamma, or the endFactor reached after `steps` (then held); never below η·minFactor.
      const n = spec.steps ?? horizon;
      const g = spec.gamma ?? spec.endFactor! ** (1 / n);
      const floor = eta * (spec.minFactor ?? 0);
      return stateless((t) => Math.max(floor, eta * g ** (spec.gamma === undefined ? Math.min(t, n) : t)));
    }
    case 'linear': {
      const n = spec.steps ?? horizon;
      const { startFactor: a, endFactor: e } = spec;
      return stateless((t) => eta * (a + ((e - a) * Math.min(t, n)) / n));
    }
    case 'polynomial': {
      const n = spec.steps ?? horizon;
      const e = spec.endFactor;
      return stateless((t) => eta * ((1 - e) * (1 - Math.min(t, n) / n) ** spec.power + e));
    }
    case 'cosine': {
      const n = spec.steps ?? horizon;
      const lo = eta * spec.minFactor;
      return stateless((t) => (t < n ? lo + ((eta - lo) * (1 + Math.cos((Math.PI * t) / n))) / 2 : lo));
    }
    case 'cosine_restarts':
      return stateless(cosineRestarts(spec, eta, horizon));
    case 'cyclic':
      return stateless(cyclic(spec, eta));
    case 'one_cycle':
      return stateless(oneCycle(spec, eta, spec.steps ?? horizon));
    case 'inverse_sqrt': {
      const ts = spec.timescale ?? (warmupSteps > 0 ? warmupSteps : 10_000);
      return stateless((t) => eta * (1 / Math.sqrt((t + ts) / ts)));
    }
    case 'lr_range': {
      // η·s^(1 − t/(n−1)): geometric from η·s to η over n updates.
      const n = spec.steps ?? horizon;
      const s = spec.startFactor;
      return stateless((t) => (n <= 1 ? eta : eta * s ** (1 - Math.min(t, n - 1) / (n - 1))));
    }
    case 'wsd':
      return stateless(wsd(spec, eta, horizon));
    case 'reduce_on_plateau':
      return reduceOnPlateau(spec, eta);
    case 'sequential':
      return sequential(spec, eta, horizon);
  }
}

type Of<K extends ScheduleSpec['kind']> = Extract<ScheduleSpec, { kind: K }>;

/** How many of the sorted `xs` are ≤ t (a binary search: milestones may number 10 000). */
function countAtMost(xs: readonly number[], t: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `decaySteps` of a wsd schedule over `horizon` updates (`decayFraction` rounds halves up). */
export function wsdDecaySteps(spec: Of<'wsd'>, horizon: number): number {
  return spec.decaySteps ?? Math.round((spec.decayFraction ?? 0) * horizon);
}

function cosineRestarts(spec: Of<'cosine_restarts'>, eta: number, horizon: number): Stateless {
  const lo = eta * spec.minFactor;
  const curve = (x: number) => lo + ((eta - lo) * (1 + Math.cos(Math.PI * x))) / 2;
  if (spec.cycles !== undefined) {
    const cycles = spec.cycles;
    return (t) => {
      const p = t / horizon;
      return p >= 1 ? lo : curve((cycles * p) % 1);
    };
  }
  const period = spec.period!;
  const mult = spec.periodMult ?? 1;
  return (t) => {
    let tCur = t;
    let ti = period;
    if (mult === 1) tCur = t % period;
    else {
      while (tCur >= ti) {
        tCur -= ti;
        ti *= mult;
      }
    }
    return lo + ((eta - lo) * (1 + Math.cos((Math.PI * tCur) / ti))) / 2;
  };
}

/** PyTorch CyclicLR with `base_lr = η·minFactor`, `max_lr = η`. */
function cyclic(spec: Of<'cyclic'>, eta: number): Stateless {
  const lo = eta * spec.minFactor;
  const up = spec.stepSizeUp;
  const down = spec.stepSizeDown ?? up;
  const total = up + down;
  const ratio = up / total;
  return (t) => {
    const cycle = Math.floor(1 + t / total);
    const x = 1 + t / total - cycle;
    const scale = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
    const height = (eta - lo) * scale;
    switch (spec.mode) {
      case 'triangular':
        return lo + height * 1;
      case 'triangular2':
        return lo + height * (1 / 2 ** (cycle - 1));
      default:
        return lo + height * spec.gamma ** t;
    }
  };
}

/** PyTorch OneCycleLR with `max_lr = η`, `total_steps = n`; holds its last value from `n` on. */
function oneCycle(spec: Of<'one_cycle'>, eta: number, n: number): Stateless {
  const initial = eta / spec.divFactor;
  const min = initial / spec.finalDivFactor;
  const pct = spec.pctStart;
  const phases = spec.threePhase
    ? [
        { end: pct * n - 1, from: initial, to: eta },
        { end: 2 * pct * n - 2, from: eta, to: initial },
        { end: n - 1, from: initial, to: min },
      ]
    : [
        { end: pct * n - 1, from: initial, to: eta },
        { end: n - 1, from: eta, to: min },
      ];
  const anneal =
    spec.anneal === 'cos'
      ? (a: number, b: number, p: number) => b + ((a - b) / 2) * (Math.cos(Math.PI * p) + 1)
      : (a: number, b: number, p: number) => (b - a) * p + a;
  return (t) => {
    const step = Math.min(t, n - 1);
    let start = 0;
    for (let i = 0; i < phases.length; i++) {
      const ph = phases[i]!;
      if (step <= ph.end || i === phases.length - 1) {
        const span = ph.end - start;
        // A phase too short to hold an update (tiny horizons) is taken as finished.
        return anneal(ph.from, ph.to, span > 0 ? (step - start) / span : 1);
      }
      start = ph.end;
    }
    return min;
  };
}

/** A cooldown's factor `p` of the way through it (1 at its start, 0 at its end): wsd's decay shapes. */
export function decayShapeFactor(shape: 'linear' | 'cosine' | '1-sqrt', p: number): number {
  if (shape === 'linear') return 1 - p;
  if (shape === 'cosine') return 0.5 * (1 + Math.cos(Math.PI * p));
  return 1 - Math.sqrt(p);
}

function wsd(spec: Of<'wsd'>, eta: number, horizon: number): Stateless {
  const decay = wsdDecaySteps(spec, horizon);
  const stableEnd = horizon - decay;
  const m = spec.minFactor;
  const shape = (p: number) => decayShapeFactor(spec.decayShape, p);
  return (t) => {
    if (t < stableEnd) return eta;
    if (t >= horizon) return eta * m;
    const p = (t - stableEnd) / Math.max(1, decay);
    return eta * (shape(p) * (1 - m) + m);
  };
}

/** Exactly PyTorch ReduceLROnPlateau (eps 1e-8) with `min_lr = η·minFactor`. */
function reduceOnPlateau(spec: Of<'reduce_on_plateau'>, eta: number): ScheduleState {
  const mode = spec.mode ?? 'min';
  const minLr = eta * spec.minFactor;
  const eps = 1e-8;
  let lr = eta;
  let best = mode === 'min' ? Infinity : -Infinity;
  let bad = 0;
  let cooldown = 0;
  const better = (a: number): boolean => {
    const th = spec.threshold;
    if (mode === 'min') return spec.thresholdMode === 'rel' ? a < best * (1 - th) : a < best - th;
    return spec.thresholdMode === 'rel' ? a > best * (th + 1) : a > best + th;
  };
  return {
    lrAt: () => lr,
    observe: (metric) => {
      if (better(metric)) {
        best = metric;
        bad = 0;
      } else bad += 1;
      if (cooldown > 0) {
        cooldown -= 1;
        bad = 0;
      }
      if (bad > spec.patience) {
        const next = Math.max(lr * spec.factor, minLr);
        if (lr - next > eps) lr = next;
        cooldown = spec.cooldown;
        bad = 0;
      }
    },
  };
}

function sequential(spec: Of<'sequential'>, eta: number, horizon: number): ScheduleState {
  const starts = [0, ...spec.milestones];
  const parts = spec.parts.map((p, k) => buildSchedule(p, eta, (starts[k + 1] ?? horizon) - starts[k]!));
  // starts[0] = 0 ≤ t always: the part is the last start ≤ t.
  const partAt = (t: number): number => countAtMost(starts, t) - 1;
  return {
    lrAt: (t) => {
      const k = partAt(t);
      return parts[k]!.lrAt(t - starts[k]!);
    },
    observe: (metric, step) => {
      const k = partAt(step);
      parts[k]!.observe(metric, step - starts[k]!);
    },
  };
}
