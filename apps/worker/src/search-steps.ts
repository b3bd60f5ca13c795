// The steps a trial takes for the search around it rather than for itself: a trunk hands its
// forks their checkpoints, an ASHA trial pauses at its rungs, and a trial's end makes work due for
// others (held trials of a maxParallel sweep, a trunk's orphaned forks, rung decisions).
import {
  admitHeldTrials,
  type ClaimedTrial,
  decideRungs,
  handOffFork,
  reachRung,
  type Redelivery,
  releaseOrphanForks,
  waitingFork,
} from '@lrsweep/db';
import { enqueueDue } from '@lrsweep/queue';
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
 * Work due for others that the API's reconciler also does: enqueued here, and a failure loses
 * nothing, so it is only logged. Trials it prunes lose their checkpoints at once (the periodic
 * checkpoint sweep removes them otherwise). Returns how many deliveries it made.
 */
async function alsoReconciled(
  d: TrialRunnerDeps,
  log: Logger,
  what: string,
  work: () => Promise<{ deliveries: Redelivery[]; pruned?: string[] }>,
) {
  const r = await enqueueDue(
    d.queue,
    async () => {
      const r = await work();
      for (const id of r.pruned ?? []) await d.checkpoints.removeTrial(id).catch(() => {});
      return r;
    },
    (err) => log.warn({ err }, `could not ${what}; the reconciler will`),
  );
  return r?.deliveries.length ?? 0;
}

/**
 * What a trial's end (not its release to another worker, nor an ASHA pause) makes due: the next
 * held trials of a maxParallel sweep start, forks its trunk never reached run independently, and
 * the sweep's rungs may be settled (pending configurations are fewer).
 */
export async function afterTrial(d: TrialRunnerDeps, claimed: ClaimedTrial, outcome: string, log: Logger) {
  if (outcome === 'released') return;
  if (claimed.maxParallel !== null) {
    await alsoReconciled(d, log, 'start the next held trial of the sweep', async () => ({
      deliveries: await admitHeldTrials(d.db, claimed.sweepId),
    }));
  }
  if (forksOf(claimed).length) {
    const n = await alsoReconciled(d, log, "release the trunk's waiting forks", async () => ({
      deliveries: await releaseOrphanForks(d.db, claimed.identity),
    }));
    if (n) log.info({ forks: n }, 'forks the trunk did not reach run independently');
  }
  if (config(claimed).asha && outcome !== 'paused')
    await alsoReconciled(d, log, "take the sweep's rung decisions", () => decideRungs(d.db, claimed.sweepId));
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
  try {
    const fork = await waitingFork(d.db, identity, claimed.identity);
    if (!fork) return;
    const path = await d.checkpoints.write(fork.id, 0, state);
    const r = await handOffFork(d.db, {
      trunkId: claimed.trialId,
      trunkAttempt: claimed.attempt,
      forkId: fork.id,
      checkpointPath: path,
      step: state.step,
      backend,
    });
    if (!r.handedOff) {
      await d.checkpoints.remove(path);
      return;
    }
    if (r.deliveries.length) await d.queue.enqueueTrials(r.deliveries);
    log.info({ forkId: fork.id, step: state.step }, 'fork handed its checkpoint');
  } catch (err) {
    log.warn(
      { err, step: state.step },
      'could not hand a fork its checkpoint; it runs independently once this trunk ends',
    );
  }
}

/**
 * Paused at an ASHA rung, checkpointed there: the estimate is stored and the trial waits for its
 * configuration's decision, which this report may settle (for it and for others).
 */
export async function paused(d: TrialRunnerDeps, claimed: ClaimedTrial, rung: RungEstimate, log: Logger) {
  const r = await reachRung(d.db, {
    trialId: claimed.trialId,
    attempt: claimed.attempt,
    rung: claimed.rungsReached,
    step: rung.step,
    value: rung.value,
    cooldownSteps: rung.cooldownSteps,
  });
  if (!r.recorded) {
    log.warn("the trial was no longer this attempt's at its rung; nothing recorded");
    return { superseded: true };
  }
  for (const id of r.pruned) await d.checkpoints.removeTrial(id).catch(() => {});
  if (r.deliveries.length) await d.queue.enqueueTrials(r.deliveries);
  log.info(
    {
      rung: claimed.rungsReached,
      step: rung.step,
      value: rung.value,
      cooldownSteps: rung.cooldownSteps,
      promoted: r.deliveries.length,
      pruned: r.pruned.length,
    },
    'trial judged at a rung',
  );
  return { status: 'paused' as const };
}
