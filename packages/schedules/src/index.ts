/**
 * Learning-rate schedules with the exact semantics of ../shared/SCHEDULES.md (PyTorch and
 * Hugging Face conventions, float64). Pure functions; the only dependency is zod, whose schema
 * also validates sweeps and generates the API's OpenAPI description.
 */
import { horizonIssues } from './horizon';
import { type SpecIssue, toSpecIssues } from './issues';
import { buildSchedule } from './rates';
import { resolveSchedule } from './resolve';
import {
  cooldownOf,
  type ScheduleDraft,
  type ScheduleDraftInput,
  scheduleDraftSchema,
  type ScheduleInput,
  type ScheduleSpec,
} from './schema';

export * from './schema';
export { formatPath, toSpecIssues, type SpecIssue } from './issues';
export { horizonIssues } from './horizon';
export { decayShapeFactor } from './rates';
export { resolveSchedule, type ResolveContext, type ResolveResult } from './resolve';

export type ParseResult = { ok: true; spec: ScheduleDraft } | { ok: false; issues: SpecIssue[] };

/**
 * Validates a schedule spec as a spec may give it: the typed spec with defaults filled (lengths
 * possibly `{ fraction }` or `{ epochs }`, see `resolveSchedule`), or every problem with its path.
 */
export function parseSchedule(input: unknown): ParseResult {
  const r = scheduleDraftSchema.safeParse(input);
  return r.success ? { ok: true, spec: r.data } : { ok: false, issues: toSpecIssues(r.error) };
}

/** Validates a spec and resolves its lengths for a horizon (and updates per epoch): steps only. */
export function parseScheduleFor(
  input: unknown,
  ctx: { horizon: number; stepsPerEpoch?: number },
): { ok: true; spec: ScheduleSpec } | { ok: false; issues: SpecIssue[] } {
  const r = parseSchedule(input);
  return r.ok ? resolveSchedule(r.spec, ctx) : r;
}

/** Thrown by `lrSequence`/`createSchedule` for a spec that does not validate. */
export class ScheduleSpecError extends Error {
  readonly code = 'SPEC_INVALID';
  constructor(readonly issues: SpecIssue[]) {
    super(`invalid schedule: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  }
}

function resolve(
  spec: ScheduleInput | ScheduleSpec | ScheduleDraftInput,
  opts: Pick<ScheduleOptions, 'totalSteps' | 'stepsPerEpoch'>,
): ScheduleSpec {
  const r = parseSchedule(spec);
  if (!r.ok) throw new ScheduleSpecError(r.issues);
  const resolved = resolveSchedule(r.spec, {
    horizon: opts.totalSteps,
    ...(opts.stepsPerEpoch ? { stepsPerEpoch: opts.stepsPerEpoch } : {}),
  });
  if (!resolved.ok) throw new ScheduleSpecError(resolved.issues);
  const late = horizonIssues(resolved.spec, opts.totalSteps);
  if (late.length > 0) throw new ScheduleSpecError(late);
  return resolved.spec;
}

export interface ScheduleOptions {
  /** The peak rate η. */
  baseLr: number;
  /** The horizon `T`: the number of updates of the trial. */
  totalSteps: number;
  /** Updates per epoch `S`: for lengths in epochs and `interval: "epoch"`. */
  stepsPerEpoch?: number;
}

/** A stateful schedule: the trainer asks `lrAt(t)` before every update and `observe`s evaluations. */
export interface Schedule {
  lrAt(t: number): number;
  /** Feeds an evaluation's metric, recorded after `step` updates; it affects rates from `step` on. */
  observe(metric: number, step?: number): void;
}

export function createSchedule(
  spec: ScheduleInput | ScheduleSpec | ScheduleDraftInput,
  opts: ScheduleOptions,
): Schedule {
  const s = buildSchedule(resolve(spec, opts), opts.baseLr, opts.totalSteps, opts.stepsPerEpoch);
  let lastStep = 0;
  return {
    lrAt: (t) => s.lrAt(t),
    observe: (metric, step) => {
      lastStep = step ?? lastStep;
      s.observe(metric, lastStep);
    },
  };
}

export interface SequenceOptions extends ScheduleOptions {
  /** Evaluation metrics, for `reduce_on_plateau` (anywhere in the spec). */
  metrics?: readonly number[];
  /**
   * With `metrics`: evaluations happen every `evalEvery` updates (and after the last), and the
   * result is the per-update series. Without it, a `reduce_on_plateau` spec gives one rate per
   * metric: the rate in effect after observing it.
   */
  evalEvery?: number;
}

/** The rate for each update `0 … totalSteps−1` (or per metric, see `SequenceOptions`). */
export function lrSequence(spec: ScheduleInput | ScheduleSpec | ScheduleDraftInput, opts: SequenceOptions): number[] {
  const resolved = resolve(spec, opts);
  const { baseLr, totalSteps: T, metrics, evalEvery } = opts;
  if (metrics && evalEvery === undefined && resolved.kind === 'reduce_on_plateau') {
    const core = buildSchedule({ ...resolved, warmup: undefined }, baseLr, T);
    return metrics.map((m, i) => {
      core.observe(m, i);
      return core.lrAt(0);
    });
  }
  const s = buildSchedule(resolved, baseLr, T, opts.stepsPerEpoch);
  const out = new Array<number>(T);
  let next = 0;
  for (let t = 0; t < T; t++) {
    out[t] = s.lrAt(t);
    const done = t + 1;
    if (metrics && evalEvery && (done % evalEvery === 0 || done === T) && next < metrics.length) {
      s.observe(metrics[next++]!, done);
    }
  }
  return out;
}

export interface PreviewOptions extends SequenceOptions {
  /** At most this many steps are computed: longer horizons are sampled at evenly spaced steps. */
  maxSteps: number;
}

/**
 * The rate at up to `maxSteps` steps of the horizon (every step when it is shorter, else evenly
 * spaced ones, first and last included), exactly as `lrSequence` gives them there; a plateau
 * schedule observes every metric at its evaluation step on the way. Its cost is bounded by
 * `maxSteps` and the number of metrics, whatever the horizon.
 */
export function previewSequence(
  spec: ScheduleInput | ScheduleSpec | ScheduleDraftInput,
  opts: PreviewOptions,
): { steps: number[]; lr: number[] } {
  const resolved = resolve(spec, opts);
  const { baseLr, totalSteps: T, metrics = [], maxSteps } = opts;
  const evalEvery = opts.evalEvery ?? T;
  const s = buildSchedule(resolved, baseLr, T, opts.stepsPerEpoch);
  const n = Math.min(T, Math.max(2, maxSteps));
  const steps =
    T <= maxSteps
      ? Array.from({ length: T }, (_, t) => t)
      : Array.from({ length: n }, (_, i) => Math.round((i * (T - 1)) / (n - 1)));
  const lr = new Array<number>(steps.length);
  // The evaluation after `done` updates is observed before the rate of update `done`.
  let next = 0;
  const evalAt = (k: number) => Math.min((k + 1) * evalEvery, T);
  steps.forEach((t, i) => {
    while (next < metrics.length && evalAt(next) <= t) {
      s.observe(metrics[next]!, evalAt(next));
      next++;
    }
    lr[i] = s.lrAt(t);
  });
  return { steps, lr };
}

/**
 * The schedule as a trial's identity sees it: defaults filled, `warmup: {steps: 0}` removed, and
 * v1.1's new parameters left at their defaults (`interval: "update"`, exponential `minFactor: 0`)
 * dropped, so every v1 identity stays the same.
 */
export function canonicalSchedule(spec: ScheduleSpec): ScheduleSpec {
  const out: Record<string, unknown> = { ...spec };
  if (spec.warmup && spec.warmup.steps === 0) delete out.warmup;
  if (out.interval === undefined || out.interval === 'update') delete out.interval;
  if (spec.kind === 'exponential' && (spec.minFactor === 0 || spec.minFactor === undefined)) delete out.minFactor;
  if (spec.kind === 'sequential') out.parts = spec.parts.map(canonicalSchedule);
  return out as ScheduleSpec;
}

/** Parameters without defaults, per kind: always shown in a label. */
const REQUIRED: Partial<Record<ScheduleSpec['kind'], string[]>> = {
  step: ['stepSize'],
  multistep: ['milestones'],
  exponential: ['gamma', 'endFactor'],
  cosine_restarts: ['period', 'cycles'],
  cyclic: ['minFactor', 'stepSizeUp'],
  wsd: ['decaySteps', 'decayFraction'],
};

/** A short human label, defaults left out: `cosine(minFactor=0.1) + warmup 100`. */
export function describeSchedule(spec: ScheduleSpec): string {
  const cool = cooldownOf(spec);
  const warm = `${spec.warmup && spec.warmup.steps > 0 ? ` + warmup ${spec.warmup.steps}` : ''}${cool ? ` + cooldown ${cool.steps} ${cool.shape}` : ''}${spec.interval === 'epoch' ? ' per epoch' : ''}`;
  if (spec.kind === 'sequential') {
    return `sequential(${spec.parts.map(describeSchedule).join(' → ')} @ ${spec.milestones.join(',')})${warm}`;
  }
  const required = REQUIRED[spec.kind] ?? [];
  const minimal = Object.fromEntries(Object.entries(spec).filter(([k]) => k === 'kind' || required.includes(k)));
  const r = parseSchedule(minimal);
  const defaults: Record<string, unknown> = r.ok ? { ...r.spec } : {};
  const params = Object.entries(spec)
    .filter(
      ([k, v]) =>
        k !== 'kind' &&
        k !== 'warmup' &&
        k !== 'interval' &&
        !(k === 'cooldown' && cool) &&
        (required.includes(k) || JSON.stringify(defaults[k]) !== JSON.stringify(v)),
    )
    .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : String(v)}`);
  return `${spec.kind}${params.length ? `(${params.join(', ')})` : ''}${warm}`;
}
export { scheduleExamples } from './examples';
