import { formatPath, type SpecIssue, toSpecIssues } from './issues';
import { type LengthObject, type ScheduleDraft, type ScheduleSpec, scheduleSchema } from './schema';

/** The length parameters of every kind (SCHEDULES.md v1.1), besides `warmup.steps` and milestones. */
const lengthKeys = new Set(['stepSize', 'steps', 'period', 'stepSizeUp', 'stepSizeDown', 'timescale', 'decaySteps']);

export interface ResolveContext {
  /** The horizon `T` the schedule is given (the trial's, or a sequential part's span). */
  horizon: number;
  /** Updates per epoch `S`, for lengths given in epochs and for `interval: "epoch"`. */
  stepsPerEpoch?: number;
}

export type ResolveResult = { ok: true; spec: ScheduleSpec } | { ok: false; issues: SpecIssue[] };

/**
 * Resolves every length given as `{ fraction }` (`ceil(f·H)`, H the horizon the parameter lives
 * in) or `{ epochs }` (`ceil(e·S)`) to steps, as SCHEDULES.md v1.1 says: `warmup.steps` and a
 * schedule's own lengths without warmup live in the horizon `T`; a schedule's own lengths under a
 * warmup of `W` in `T − W`; lengths inside a `sequential` part in that part's span. Then checks
 * the resolved schedule as any other (ordering, interval rules).
 */
export function resolveSchedule(draft: ScheduleDraft, ctx: ResolveContext, path: PropertyKey[] = []): ResolveResult {
  const issues: SpecIssue[] = [];
  const raw = resolveIn(draft as unknown as Record<string, unknown>, ctx.horizon, ctx, path, issues);
  if (draft.interval === 'epoch' && ctx.stepsPerEpoch === undefined) {
    issues.push({
      path: formatPath([...path, 'interval']),
      message: 'interval: epoch needs the updates per epoch (training.stepsPerEpoch for external runners)',
    });
  }
  if (issues.length) return { ok: false, issues };
  const r = scheduleSchema.safeParse(raw);
  return r.success ? { ok: true, spec: r.data } : { ok: false, issues: toSpecIssues(r.error, path) };
}

const isLengthObject = (v: unknown): v is LengthObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function lengthOf(v: unknown, H: number, ctx: ResolveContext, path: PropertyKey[], issues: SpecIssue[]): unknown {
  if (!isLengthObject(v)) return v;
  if ('fraction' in v) return Math.ceil(v.fraction * H);
  if (ctx.stepsPerEpoch === undefined) {
    issues.push({
      path: formatPath(path),
      message: 'a length in epochs needs the updates per epoch (training.stepsPerEpoch for external runners)',
    });
    return 1;
  }
  return Math.ceil(v.epochs * ctx.stepsPerEpoch);
}

function resolveIn(
  spec: Record<string, unknown>,
  H: number,
  ctx: ResolveContext,
  path: PropertyKey[],
  issues: SpecIssue[],
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...spec };
  let own = H;
  const warmup = spec.warmup as { steps: unknown; startFactor?: number } | undefined;
  if (warmup) {
    const steps = lengthOf(warmup.steps, H, ctx, [...path, 'warmup', 'steps'], issues);
    out.warmup = { ...warmup, steps };
    if (typeof steps === 'number') own = H - steps;
  }
  // A cooldown ends the whole run: its length lives in the horizon T, warmup included.
  const cooldown =
    spec.kind === 'reduce_on_plateau'
      ? undefined
      : (spec.cooldown as { steps?: unknown; fraction?: number; shape?: string } | undefined);
  if (cooldown && typeof cooldown === 'object') {
    const { fraction, ...rest } = cooldown;
    out.cooldown = {
      ...rest,
      steps:
        fraction !== undefined
          ? Math.ceil(fraction * H)
          : lengthOf(cooldown.steps, H, ctx, [...path, 'cooldown', 'steps'], issues),
    };
  }
  for (const key of Object.keys(spec)) {
    if (lengthKeys.has(key)) out[key] = lengthOf(spec[key], own, ctx, [...path, key], issues);
  }
  if (Array.isArray(spec.milestones))
    out.milestones = spec.milestones.map((m, i) => lengthOf(m, own, ctx, [...path, 'milestones', i], issues));
  if (spec.kind === 'sequential' && Array.isArray(spec.parts)) {
    const starts = [0, ...(out.milestones as number[])];
    out.parts = (spec.parts as Record<string, unknown>[]).map((p, k) =>
      resolveIn(p, (starts[k + 1] ?? own) - (starts[k] ?? 0), ctx, [...path, 'parts', k], issues),
    );
  }
  return out;
}
