import type { TrialStatus } from '@lrsweep/contract';
import type { ScheduleSpec } from '@lrsweep/schedules';
import { type Summary, summarize, summaryFrom } from './statistics';

/** What the ranking needs of one trial. `value` is its objective, for a completed trial. */
export interface TrialOutcome {
  configId: string;
  baseLr: number;
  schedule: ScheduleSpec;
  status: TrialStatus;
  value: number | null;
}

/** One configuration's pooled seeds, before ranking. */
export interface ConfigStats {
  configId: string;
  config: { baseLr: number; schedule: ScheduleSpec; values?: Record<string, unknown>; horizon?: number };
  /** Completed, non-diverged seeds with a finite objective, and their mean and sample std. */
  n: number;
  mean: number | null;
  std: number | null;
  /** The smallest and largest of the counted seeds' objectives (absent: unknown). */
  min?: number | null;
  max?: number | null;
  /** Seeds that diverged, and all seeds whatever their state. */
  diverged: number;
  seeds: number;
}

export interface RankingRow extends Summary {
  rank: number;
  configId: string;
  config: { baseLr: number; schedule: ScheduleSpec; values?: Record<string, unknown>; horizon?: number };
  diverged: number;
  seeds: number;
  /** Some seeds have not finished (or failed): the row may still change. */
  partial: boolean;
  /** [min, max] of the counted seeds' objectives; null when none counted. */
  range: [number, number] | null;
}

export type RankBy = 'mean' | 'ci';

/**
 * One row per configuration, best first: configurations without a diverged seed first, then
 * fewer diverged seeds; within those, by mean in the objective's direction, or (`ci`) by the
 * pessimistic end of the 95% CI, configurations without a CI after those with one; rows with no
 * counted seed last.
 */
export function rankStats(stats: readonly ConfigStats[], mode: 'min' | 'max', rankBy: RankBy = 'mean'): RankingRow[] {
  const rows = stats.map((s) => ({
    configId: s.configId,
    config: s.config,
    ...summaryFrom(s.n, s.mean, s.std),
    diverged: s.diverged,
    seeds: s.seeds,
    partial: s.n + s.diverged < s.seeds,
    range: s.n > 0 && s.min != null && s.max != null ? ([s.min, s.max] as [number, number]) : null,
  }));
  const sign = mode === 'min' ? 1 : -1;
  const pessimistic = (r: (typeof rows)[number]) => (r.ci95 ? (mode === 'min' ? r.ci95[1] : r.ci95[0]) : null);
  rows.sort((a, b) => {
    const byDiverged = a.diverged - b.diverged || Number(a.mean === null) - Number(b.mean === null);
    if (byDiverged) return byDiverged;
    if (rankBy === 'ci') {
      const pa = pessimistic(a);
      const pb = pessimistic(b);
      const byCi = Number(pa === null) - Number(pb === null) || sign * ((pa ?? 0) - (pb ?? 0));
      if (byCi) return byCi;
    }
    return (
      sign * ((a.mean ?? 0) - (b.mean ?? 0)) || a.config.baseLr - b.config.baseLr || (a.configId < b.configId ? -1 : 1)
    );
  });
  return rows.map((r, i) => ({ rank: i + 1, ...r }));
}

/** `rankStats` from individual trials (seeds pooled here). */
export function rankConfigurations(
  outcomes: readonly TrialOutcome[],
  mode: 'min' | 'max',
  rankBy: RankBy = 'mean',
): RankingRow[] {
  const groups = new Map<string, TrialOutcome[]>();
  for (const o of outcomes) {
    const g = groups.get(o.configId);
    if (g) g.push(o);
    else groups.set(o.configId, [o]);
  }
  const stats = [...groups.entries()].map(([configId, trials]): ConfigStats => {
    const values = trials
      .filter((t) => t.status === 'completed' && t.value !== null && Number.isFinite(t.value))
      .map((t) => t.value as number);
    const s = summarize(values);
    return {
      configId,
      config: { baseLr: trials[0]!.baseLr, schedule: trials[0]!.schedule },
      n: s.n,
      mean: s.mean,
      std: s.std,
      min: values.length ? Math.min(...values) : null,
      max: values.length ? Math.max(...values) : null,
      diverged: trials.filter((t) => t.status === 'diverged').length,
      seeds: trials.length,
    };
  });
  return rankStats(stats, mode, rankBy);
}
