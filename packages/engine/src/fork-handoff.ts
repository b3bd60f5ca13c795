import type { Db, MinimalLogger } from '@lrsweep/db';
import { handOffFork, waitingFork } from './transitions';
import type { TrialQueue } from '@lrsweep/queue';

/** A trunk at one of its fork points: after `step` updates, for the fork of identity `forkIdentity`. */
export interface ForkPoint {
  trunkId: string;
  trunkAttempt: number;
  trunkIdentity: string;
  forkIdentity: string;
  step: number;
  /** The trunk's backend (a fork trains on the same one); null: the trainer's own (an agent). */
  backend: 'wasm' | 'tensorflow' | null;
}

/**
 * Hands the fork waiting at a trunk's fork point its checkpoint, the trunk's rows before it and a
 * delivery (enqueued here), for a built-in worker's trunk and an agent's alike. `checkpointFor`
 * names the checkpoint the fork resumes from (a worker writes a copy; an agent's file is its
 * own); `discard` removes it when the handoff is refused. A failure is logged, never thrown: the
 * fork then runs independently once the trunk ends (afterTrial, or the reconciler).
 */
export async function handOffAtForkPoint(
  d: { db: Db; queue: Pick<TrialQueue, 'enqueueTrials'>; log?: MinimalLogger },
  p: ForkPoint,
  checkpointFor: (forkId: string) => Promise<string>,
  discard: (path: string) => Promise<void> = async () => {},
): Promise<void> {
  try {
    const fork = await waitingFork(d.db, p.forkIdentity, p.trunkIdentity);
    if (!fork) return;
    const path = await checkpointFor(fork.id);
    const r = await handOffFork(d.db, {
      trunkId: p.trunkId,
      trunkAttempt: p.trunkAttempt,
      forkId: fork.id,
      checkpointPath: path,
      step: p.step,
      backend: p.backend,
    });
    if (!r.handedOff) return await discard(path);
    if (r.deliveries.length) await d.queue.enqueueTrials(r.deliveries);
    d.log?.info({ trialId: p.trunkId, forkId: fork.id, step: p.step }, 'fork handed its checkpoint');
  } catch (err) {
    d.log?.warn(
      { err, trialId: p.trunkId, step: p.step },
      'could not hand a fork its checkpoint; it runs independently once this trunk ends',
    );
  }
}
