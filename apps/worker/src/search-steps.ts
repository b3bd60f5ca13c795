// The steps a trial takes for the search around it rather than for itself: a trunk hands its
// forks their checkpoints, and an ASHA trial pauses at its rungs. What a trial's end makes due for
// others (held trials, orphaned forks, rung decisions) is the engine's afterTrial.
import { type ClaimedTrial, handOffAtForkPoint, pauseAtRung } from '@lrsweep/engine';
import { type BuiltinTrialConfig, nextRungOf } from '@lrsweep/sweep';
import type { RungEstimate, RungOptions, TrainerState } from '@lrsweep/trainer';
import type { Logger } from 'pino';
import type { TrialRunnerDeps } from './run-trial';

const config = (claimed: ClaimedTrial) => claimed.config as BuiltinTrialConfig;

/** A trunk's forks (forks.ts in @lrsweep/sweep): the trials it hands a checkpoint, and where. */
export const forksOf = (claimed: ClaimedTrial) => config(claimed).forks ?? [];

/**
 * The ASHA rung an attempt trains to (none past the last: it runs to its horizon), and how it is
 * judged there: the rungs it has not been judged at yet, whatever checkpoint it resumes from.
 */
export function nextRung(claimed: ClaimedTrial): RungOptions | undefined {
  const a = config(claimed).asha;
  return a ? nextRungOf(a, claimed.rungsReached) : undefined;
}

/**
 * Hands the fork waiting at this checkpoint's update its own copy of it (the trunk goes on and
 * replaces its own). A failed handoff loses nothing: the fork waits until the trunk ends, then
 * runs independently (releaseOrphanForks).
 */
export async function handOff(
  d: TrialRunnerDeps,
  claimed: ClaimedTrial,
  identity: string,
  state: TrainerState,
  backend: 'wasm' | 'tensorflow' | null,
  log: Logger,
) {
  await handOffAtForkPoint(
    { db: d.db, queue: d.queue, log },
    {
      trunkId: claimed.trialId,
      trunkAttempt: claimed.attempt,
      trunkIdentity: claimed.identity,
      forkIdentity: identity,
      step: state.step,
      backend,
    },
    // The fork's own copy of the checkpoint, as its first attempt's.
    (forkId) => d.checkpoints.write(forkId, 0, state),
    (path) => d.checkpoints.remove(path),
  );
}

/**
 * Paused at an ASHA rung, checkpointed there: the estimate is stored and the trial waits for its
 * configuration's decision, which this report may settle (for it and for others).
 */
export async function paused(d: TrialRunnerDeps, claimed: ClaimedTrial, rung: RungEstimate, log: Logger) {
  const r = await pauseAtRung(
    { db: d.db, queue: d.queue, log, removeCheckpoints: (id) => d.checkpoints.removeTrial(id) },
    {
      trialId: claimed.trialId,
      attempt: claimed.attempt,
      rung: claimed.rungsReached,
      step: rung.step,
      value: rung.value,
      cooldownSteps: rung.cooldownSteps,
    },
  );
  if (!r.recorded) {
    log.warn("the trial was no longer this attempt's at its rung; nothing recorded");
    return { superseded: true };
  }
  log.info(
    {
      rung: claimed.rungsReached,
      step: rung.step,
      value: rung.value,
      cooldownSteps: rung.cooldownSteps,
      promoted: r.promoted,
      pruned: r.prunedTrials,
    },
    'trial judged at a rung',
  );
  return { status: 'paused' as const };
}
