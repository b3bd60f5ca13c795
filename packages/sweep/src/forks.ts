import { cooldownOf, createSchedule, type ScheduleSpec } from '@lrsweep/schedules';
import { canonicalJson } from './canonical';
import { type SweepPlan, stepsPerEpochOf, type TrialPlan } from './expand-sweep';

/**
 * Forked cooldowns (the schedule-aware search issue): on a horizon axis, the horizons of one
 * warmup-stable-decay schedule, or of any schedule given a `cooldown` (one base LR, seed and
 * grid.config values), share every update before their decays start when their rates there do
 * not depend on the horizon. The longest horizon's trial is the trunk: as it passes each shorter
 * horizon's decay start it hands that trial its checkpoint (and its rows so far), and the shorter
 * one runs only its cooldown. The sweep then costs the longest horizon plus the shorter ones'
 * cooldowns instead of the sum of the horizons, and every result is bit-identical to an
 * independent run (same data order, RNG stream and rates before the fork point).
 */
export interface ForkSummary {
  /** Trials that carry forks (each the longest horizon of its family, base LR and seed). */
  trunks: number;
  /** Trials that start from a trunk's checkpoint at their decay start. */
  forks: number;
  /** Updates the sweep trains with forks … */
  updates: number;
  /** … and without (Σ of the trials' horizons). */
  independentUpdates: number;
}

/**
 * Where a schedule's decay to its end starts over `horizon` updates: a wsd schedule's decay, or a
 * cooldown's start (the earlier of the two); null for schedules without either.
 */
export function decayStart(schedule: ScheduleSpec, horizon: number): number | null {
  const cooldown = cooldownOf(schedule);
  const starts: number[] = cooldown ? [horizon - cooldown.steps] : [];
  if (schedule.kind === 'wsd') {
    const warmup = schedule.warmup?.steps ?? 0;
    // The decay is measured on the part after the warmup (schedules' horizon rules), as the rates are.
    starts.push(horizon - (schedule.decaySteps ?? Math.round((schedule.decayFraction ?? 0) * (horizon - warmup))));
  }
  return starts.length ? Math.min(...starts) : null;
}

/** Whether two schedules give bit-identical rates to every update before `until` (each over its own horizon). */
function sameRatesBefore(
  a: { schedule: ScheduleSpec; horizon: number },
  b: { schedule: ScheduleSpec; horizon: number },
  until: number,
  baseLr: number,
  stepsPerEpoch?: number,
): boolean {
  const opts = (horizon: number) => ({ baseLr, totalSteps: horizon, ...(stepsPerEpoch ? { stepsPerEpoch } : {}) });
  const ra = createSchedule(a.schedule, opts(a.horizon));
  const rb = createSchedule(b.schedule, opts(b.horizon));
  for (let t = 0; t < until; t++) if (ra.lrAt(t) !== rb.lrAt(t)) return false;
  return true;
}

/**
 * Marks the forks of a new sweep's trials: each fork names its trunk and its fork point; each
 * trunk's config lists its forks (the worker hands them off). Only where the prefixes are truly
 * identical: grid search (built-in or external runners), no SWA (its window depends on the horizon), a `wsd`
 * schedule or one with a cooldown whose rates before the fork point are bit-identical at both
 * horizons (a fraction-length warmup or a cosine over the horizon are not), and a fork point before
 * the trunk's own decay. Anything else runs independently. Extensions never fork.
 */
export function planForks(
  plan: SweepPlan,
  trials: readonly TrialPlan[],
): { trials: TrialPlan[]; summary: ForkSummary } {
  const independentUpdates = trials.reduce((n, t) => n + t.totalSteps, 0);
  const none = {
    trials: [...trials],
    summary: { trunks: 0, forks: 0, updates: independentUpdates, independentUpdates },
  };
  const { spec } = plan;
  if (
    (spec.search && spec.search.kind !== 'grid') ||
    !spec.grid.horizon ||
    spec.grid.horizon.length < 2 ||
    spec.training.swaFraction
  )
    return none;
  const configs = new Map(plan.configs.map((c) => [c.configId, c]));
  const S = stepsPerEpochOf(spec);
  // Per pair of configurations (seeds share their schedules): whether their rates agree before the fork point.
  const agree = new Map<string, boolean>();
  // One group per schedule family, base LR, axis values and seed: its trials differ only in horizon.
  const groups = new Map<string, TrialPlan[]>();
  for (const t of trials) {
    const c = configs.get(t.configId)!;
    if (c.family === undefined || decayStart(c.schedule, t.totalSteps) === null) continue;
    const key = canonicalJson({ family: c.family, baseLr: c.baseLr, values: c.values ?? null, seed: t.config.seed });
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  const out = new Map(trials.map((t) => [t.identity, t]));
  let trunks = 0;
  let forks = 0;
  let saved = 0;
  for (const group of groups.values()) {
    const byHorizon = [...group].sort((a, b) => a.totalSteps - b.totalSteps);
    const trunk = byHorizon.at(-1)!;
    const trunkSchedule = configs.get(trunk.configId)!.schedule;
    const trunkDecay = decayStart(trunkSchedule, trunk.totalSteps)!;
    const handoffs: { identity: string; atStep: number }[] = [];
    for (const t of byHorizon.slice(0, -1)) {
      const schedule = configs.get(t.configId)!.schedule;
      const at = decayStart(schedule, t.totalSteps)!;
      if (at < 1 || at >= trunkDecay || t.totalSteps === trunk.totalSteps) continue;
      const pair = `${t.configId}/${trunk.configId}`;
      if (!agree.has(pair))
        agree.set(
          pair,
          sameRatesBefore(
            { schedule, horizon: t.totalSteps },
            { schedule: trunkSchedule, horizon: trunk.totalSteps },
            at,
            configs.get(t.configId)!.baseLr,
            S,
          ),
        );
      if (!agree.get(pair)) continue;
      handoffs.push({ identity: t.identity, atStep: at });
      out.set(t.identity, { ...t, fork: { trunk: trunk.identity, atStep: at } });
      saved += at;
    }
    if (!handoffs.length) continue;
    out.set(trunk.identity, { ...trunk, config: { ...trunk.config, forks: handoffs } });
    trunks += 1;
    forks += handoffs.length;
  }
  return {
    trials: [...out.values()],
    summary: { trunks, forks, updates: independentUpdates - saved, independentUpdates },
  };
}
