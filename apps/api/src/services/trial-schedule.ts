import { createSchedule, type Schedule, type ScheduleSpec } from '@lrsweep/schedules';

/** An evaluation row as stored: the columns of the built-in metrics, the rest in `metrics`. */
export interface StoredEval {
  step: number;
  valLoss: number | null;
  valAcc: number | null;
  trainLoss: number | null;
  metrics: unknown;
}

/** A stored evaluation's value of a metric (null when it was not reported, or not finite). */
export function evalValue(e: StoredEval, metric: string): number | null {
  if (metric === 'val_loss') return e.valLoss;
  if (metric === 'val_acc') return e.valAcc;
  if (metric === 'train_loss') return e.trainLoss;
  const m = e.metrics as Record<string, number | null> | null;
  return m?.[metric] ?? null;
}

/** The metric a `reduce_on_plateau` schedule watches, wherever it sits in the spec. */
export function plateauMetricOf(s: ScheduleSpec): string | undefined {
  if (s.kind === 'reduce_on_plateau') return s.metric;
  if (s.kind === 'sequential') for (const p of s.parts) if (plateauMetricOf(p)) return plateauMetricOf(p);
  return undefined;
}

/**
 * A trial's schedule as the server computes it (packages/schedules: the one implementation), fed
 * the trial's stored evaluations as they come due: `lrAt(t)` observes every evaluation recorded at
 * a step ≤ t first, as the trainer's schedule would have. Ask for steps in increasing order.
 */
export function replayedSchedule(
  spec: ScheduleSpec,
  baseLr: number,
  totalSteps: number,
  evals: readonly StoredEval[],
  stepsPerEpoch?: number,
) {
  const schedule: Schedule = createSchedule(spec, { baseLr, totalSteps, ...(stepsPerEpoch ? { stepsPerEpoch } : {}) });
  const metric = plateauMetricOf(spec);
  let next = 0;
  let last = -1;
  return {
    lrAt(t: number): number {
      if (t < last) throw new Error('steps must be asked for in increasing order');
      last = t;
      while (next < evals.length && evals[next]!.step <= t) {
        const e = evals[next++]!;
        const v = metric ? evalValue(e, metric) : null;
        if (v !== null) schedule.observe(v, e.step);
      }
      return schedule.lrAt(t);
    },
  };
}
