import type { CooldownShape } from '@lrsweep/schedules';
import { decayShapeFactor } from '@lrsweep/schedules';

/** How a run is judged at an ASHA rung (asha.ts in @lrsweep/sweep). */
export interface RungOptions {
  /** The rung's budget: the run pauses after exactly this many updates. */
  step: number;
  /** The validation metric compared (val_loss, val_acc …). */
  metric: string;
  /**
   * `raw`: the metric as the run stands at the rung; or a cooldown of `steps` updates from the
   * schedule's rate at the rung down to zero in `shape`, then the metric (an annealed estimate).
   */
  estimate: 'raw' | { steps: number; shape: CooldownShape };
}

export interface RungEstimate {
  step: number;
  /** The metric, or null when the cooldown's loss diverged (the configuration is out). */
  value: number | null;
  /** Updates the estimate trained (0 for raw). */
  cooldownSteps: number;
}

/** What judging needs of the paused run: its rate now, one more update at a given rate, an evaluation. */
export interface RungRun {
  lr: number;
  /** Trains on the next batch in the run's data order at `rate`: its loss (NaN without a batch). */
  train(rate: number): number;
  evaluate(): Record<string, number>;
}

/**
 * Judges a run paused at a rung. The annealed estimate trains on from the rung's checkpoint (taken
 * before this is called, so the run that goes on later is unaffected) with the data order the run
 * would have had, the rate going from where the schedule stands to zero like a wsd decay (update
 * `i` of `c` at `lr·shape(i/c)`), and evaluates once at its end: what the configuration would
 * reach if it stopped here (Hägele et al. 2024), not what an undecayed run shows.
 */
export function judgeAtRung(opts: RungOptions, run: RungRun): RungEstimate {
  let steps = 0;
  if (opts.estimate !== 'raw') {
    const { steps: c, shape } = opts.estimate;
    for (let i = 0; i < c; i++) {
      const loss = run.train(run.lr * decayShapeFactor(shape, i / c));
      steps += 1;
      if (!Number.isFinite(loss)) return { step: opts.step, value: null, cooldownSteps: steps };
    }
  }
  const value = run.evaluate()[opts.metric];
  return {
    step: opts.step,
    value: value === undefined || !Number.isFinite(value) ? null : value,
    cooldownSteps: steps,
  };
}
