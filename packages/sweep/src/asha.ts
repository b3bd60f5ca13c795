/**
 * ASHA over a grid (Li et al. 2020, asynchronous successive halving), made fair to schedules.
 * Every configuration starts; at each rung (a budget in updates) its trials pause at a checkpoint
 * and are judged, on the mean over their seeds, by an annealed estimate (a short cooldown from
 * the checkpoint, then an evaluation: asha-rung in @lrsweep/trainer) rather than by the raw loss
 * of a run that has not decayed yet; the best 1/η go on from their checkpoints, the rest end
 * `pruned`. Trials that reach the last rung (the horizon T) are the ranking's.
 *
 * Promotions are asynchronous but safe: a configuration goes on as soon as it is certain to be
 * among a rung's best ⌊n/η⌋ (even if every configuration still on its way did better) and is
 * pruned as soon as it is certain not to be. On a fixed grid this gives successive halving's
 * outcome whatever order the trials arrive in, while promoted trials start before their rung has
 * filled. (Plain ASHA promotes on partial evidence, which on a finite grid makes the answer depend
 * on worker timing and can promote more than 1/η.)
 */
import { agentLimits, ashaRungs, type AshaSearch, type Objective, type TrialStatus } from '@lrsweep/contract';
import type { ScheduleSpec } from '@lrsweep/schedules';
import type { AshaTrialConfig, SweepPlan } from './expand-sweep';

/** What the spec can only be checked for once its horizon and schedules are known. */
export function ashaIssues(
  search: AshaSearch,
  schedule: ScheduleSpec,
  T: number,
  external = false,
): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  if (search.minBudget >= T)
    out.push({
      path: ['search', 'minBudget'],
      message: `minBudget must be below the horizon (${T} updates): ASHA needs at least two rungs`,
    });
  // An external trainer reports a rung's cooldown in one request: its rows must fit one batch.
  const longest = ashaRungs(search.minBudget, T, search.reduction).slice(0, -1).at(-1);
  if (external && search.rungMetric === 'annealed' && longest !== undefined) {
    const c = rungCooldownSteps(longest, search.cooldown.fraction);
    if (c > agentLimits.maxBatchRows)
      out.push({
        path: ['search', 'cooldown', 'fraction'],
        message: `the cooldown at the rung of ${longest} updates would be ${c} updates; an external trainer reports at most ${agentLimits.maxBatchRows} in one rung report`,
      });
  }
  const warmup = schedule.warmup?.steps ?? 0;
  // A trial is never judged inside its warmup: the first rung comes after every warmup.
  if (warmup >= search.minBudget)
    out.push({
      path: ['search', 'minBudget'],
      message: `the first rung (${search.minBudget} updates) falls inside a ${schedule.kind} schedule's warmup of ${warmup}: a rung must come after every warmup`,
    });
  return out;
}

/** The metric a rung compares: the objective's when it is measured on the validation split. */
export function rungMetricOf(objective: Objective): { metric: string; mode: 'min' | 'max' } {
  return objective.metric.startsWith('val_')
    ? { metric: objective.metric, mode: objective.mode }
    : { metric: 'val_loss', mode: 'min' };
}

export function ashaTrialConfig(search: AshaSearch, objective: Objective, T: number): AshaTrialConfig {
  return {
    rungs: ashaRungs(search.minBudget, T, search.reduction).slice(0, -1),
    rungMetric: search.rungMetric,
    cooldown: search.cooldown,
    ...rungMetricOf(objective),
  };
}

/** Updates an estimate at a rung of `budget` updates trains (at least one). */
export const rungCooldownSteps = (budget: number, fraction: number) => Math.max(1, Math.round(fraction * budget));

/**
 * Where a trial that has been judged at `reached` rungs pauses next, and how it is judged there
 * (the trainer's RungOptions); undefined past the last rung: it runs to its horizon.
 */
export function nextRungOf(a: AshaTrialConfig, reached: number) {
  const step = a.rungs[reached];
  if (step === undefined) return undefined;
  const estimate =
    a.rungMetric === 'raw'
      ? ('raw' as const)
      : { steps: rungCooldownSteps(step, a.cooldown.fraction), shape: a.cooldown.shape };
  return { step, metric: a.metric, estimate };
}

/** A trial as a rung decision sees it. */
export interface AshaTrial {
  id: string;
  /** Its configuration: seeds of one configuration are judged together, on their mean. */
  config: string;
  status: TrialStatus;
  /** Paused at its last rung, waiting for the decision. */
  waiting: boolean;
  /** Its estimate at each rung it has reached, by rung index (non-finite: it diverged there). */
  values: (number | undefined)[];
}

export interface AshaDecision {
  /** Waiting trials whose configuration goes on to the next rung. */
  promote: string[];
  /** Trials to end `pruned`, with the rung (index) they stopped at. */
  prune: { id: string; rung: number }[];
}

const ended = (s: TrialStatus) => s !== 'queued' && s !== 'running';

/**
 * The rung decisions that are certain now (see the module's comment), for trials of one sweep.
 * `rungs`: how many rungs there are below the horizon. Pure: the store calls it under the sweep's
 * lock with what Postgres holds, and the benchmark with what it trained.
 */
export function ashaDecide(
  trials: readonly AshaTrial[],
  opts: { reduction: number; rungs: number; mode: 'min' | 'max' },
): AshaDecision {
  const byConfig = new Map<string, AshaTrial[]>();
  for (const t of trials) byConfig.set(t.config, [...(byConfig.get(t.config) ?? []), t]);
  const sign = opts.mode === 'min' ? 1 : -1;
  const keepOf = (n: number) => Math.max(1, Math.floor(n / opts.reduction));
  const out: AshaDecision = { promote: [], prune: [] };
  // The configurations known to have entered rung k, and how many will have once rung k − 1 is decided.
  let entrants = [...byConfig.keys()].sort();
  let eventually = entrants.length;
  for (let k = 0; k < opts.rungs && entrants.length; k++) {
    // Each entrant's value at rung k: its seeds' mean once all have one; +∞ once a seed ended
    // without reaching it (diverged, failed) or diverged there; undefined while any is on its way.
    const value = new Map<string, number | undefined>();
    for (const c of entrants) {
      const ts = byConfig.get(c)!;
      const vs = ts.map((t) => t.values[k]);
      if (
        ts.some((t, i) => (vs[i] === undefined && ended(t.status)) || (vs[i] !== undefined && !Number.isFinite(vs[i]!)))
      )
        value.set(c, Infinity);
      else
        value.set(
          c,
          vs.every((v) => v !== undefined) ? (sign * vs.reduce((a, b) => a! + b!, 0)!) / vs.length : undefined,
        );
    }
    // Still to report: entrants on their way, and those rung k − 1 has yet to promote.
    const pending = entrants.filter((c) => value.get(c) === undefined).length + (eventually - entrants.length);
    // Promote only if certain to be among the best of however few enter; prune only if certain not to be among however many.
    const keepSure = keepOf(entrants.length);
    const keepAtMost = keepOf(eventually);
    const reported = entrants
      .filter((c) => value.get(c) !== undefined)
      .sort((a, b) => value.get(a)! - value.get(b)! || (a < b ? -1 : 1));
    const promoted: string[] = [];
    let pruned = 0;
    reported.forEach((c, better) => {
      const v = value.get(c)!;
      const decided =
        Number.isFinite(v) && better + pending < keepSure
          ? 'promote'
          : better >= keepAtMost || !Number.isFinite(v)
            ? 'prune'
            : null;
      if (decided === 'promote') promoted.push(c);
      if (decided === 'prune') pruned += 1;
      for (const t of byConfig.get(c)!) {
        const atRung = t.waiting && t.values[k] !== undefined && t.values[k + 1] === undefined;
        if (decided === 'promote' && atRung) out.promote.push(t.id);
        // A pruned configuration's seeds end at this rung: those waiting here, and any still on its way to it.
        if (decided === 'prune' && !ended(t.status) && (atRung || t.values[k] === undefined))
          out.prune.push({ id: t.id, rung: k });
      }
    });
    // Rung k + 1 gets at most keepAtMost, and no more than those not pruned here; exactly the promoted once rung k is decided.
    eventually = Math.max(promoted.length, Math.min(keepAtMost, eventually - pruned));
    entrants = promoted;
  }
  return out;
}

/**
 * Updates an ASHA search trains at most (every rung's decision as planned, the estimates' cooldowns
 * included), against the full grid's: what a dry-run shows.
 */
export function ashaBudget(
  configs: number,
  seeds: number,
  rungs: readonly number[],
  reduction: number,
  cooldownFraction: number,
  rungMetric: 'annealed' | 'raw',
): number {
  let n = configs;
  let updates = 0;
  rungs.forEach((b, k) => {
    updates += n * seeds * (b - (k ? rungs[k - 1]! : 0));
    if (k < rungs.length - 1) {
      if (rungMetric === 'annealed') updates += n * seeds * rungCooldownSteps(b, cooldownFraction);
      n = Math.max(1, Math.floor(n / reduction));
    }
  });
  return updates;
}

/** An ASHA search's rungs and the updates it trains at most (every rung decided as planned), against the grid's: dry-runs and validate show it. */
export function ashaPlanOf(
  search: AshaSearch,
  plan: Pick<SweepPlan, 'totalSteps' | 'totalUpdates' | 'configs' | 'seeds'>,
) {
  const rungs = ashaRungs(search.minBudget, plan.totalSteps, search.reduction);
  const updates = ashaBudget(
    plan.configs.length,
    plan.seeds.length,
    rungs,
    search.reduction,
    search.cooldown.fraction,
    search.rungMetric,
  );
  return { rungs, reduction: search.reduction, updates, gridUpdates: plan.totalUpdates };
}
