import type { ScheduleSpec } from '@lrsweep/schedules';
import { summarize } from './statistics';

export type TrialStatus = 'queued' | 'running' | 'completed' | 'failed' | 'diverged' | 'cancelled';

/** What the ranking needs of one trial. `value` is its objective, for a completed trial. */
export interface TrialOutcome {
  configId: string;
  baseLr: number;
  schedule: ScheduleSpec;
  status: TrialStatus;
  value: number | null;
}

export interface RankingRow {
  rank: number;
  configId: string;
  config: { baseLr: number; schedule: ScheduleSpec };
  /** Seeds that count: completed, not diverged, with a finite objective. */
  n: number;
  /** Seeds that diverged. */
  diverged: number;
  /** All seeds of the configuration, whatever their state. */
  seeds: number;
  mean: number | null;
  std: number | null;
  sem: number | null;
  ci95: [number, number] | null;
  /** Some seeds have not finished (or failed): the row may still change. */
  partial: boolean;
}

/**
 * One row per configuration, seeds pooled, best first: configurations without a diverged seed
 * first, then fewer diverged seeds; within those, by mean in the objective's direction; rows with
 * no counted seed last.
 */
export function rankConfigurations(outcomes: readonly TrialOutcome[], mode: 'min' | 'max'): RankingRow[] {
  const groups = new Map<string, TrialOutcome[]>();
  for (const o of outcomes) {
    const g = groups.get(o.configId);
    if (g) g.push(o);
    else groups.set(o.configId, [o]);
  }
  const rows: Omit<RankingRow, 'rank'>[] = [...groups.entries()].map(([configId, trials]) => {
    const values = trials
      .filter((t) => t.status === 'completed' && t.value !== null && Number.isFinite(t.value))
      .map((t) => t.value as number);
    const diverged = trials.filter((t) => t.status === 'diverged').length;
    const first = trials[0]!;
    return {
      configId,
      config: { baseLr: first.baseLr, schedule: first.schedule },
      ...summarize(values),
      diverged,
      seeds: trials.length,
      partial: values.length + diverged < trials.length,
    };
  });
  const sign = mode === 'min' ? 1 : -1;
  rows.sort(
    (a, b) =>
      a.diverged - b.diverged ||
      Number(a.mean === null) - Number(b.mean === null) ||
      sign * ((a.mean ?? 0) - (b.mean ?? 0)) ||
      a.config.baseLr - b.config.baseLr ||
      (a.configId < b.configId ? -1 : 1),
  );
  return rows.map((r, i) => ({ rank: i + 1, ...r }));
}
