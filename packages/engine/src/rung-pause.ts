import type { Db, MinimalLogger, RungReport } from '@lrsweep/db';
import { reachRung } from './transitions';
import type { TrialQueue } from '@lrsweep/queue';

/** What a pause at a rung came to, for the runner to say (log, or answer its agent). */
export type RungPause =
  | { recorded: false }
  | {
      recorded: true;
      /** The trial itself was pruned by the decision its estimate settled (else it waits, paused). */
      pruned: boolean;
      /** Trials (of the sweep) promoted and pruned by that decision. */
      promoted: number;
      prunedTrials: number;
    };

/**
 * An attempt stopped at an ASHA rung, checkpointed there, with its estimate: the estimate is
 * stored once, the trial waits for its configuration's decision, and the decisions this settles
 * are taken (asha-store in @lrsweep/db), for a built-in worker's trial and an agent's alike.
 * Promoted trials are enqueued here (a failed enqueue is logged: the reconciler redelivers);
 * pruned trials' checkpoints go when `removeCheckpoints` is given (a worker's; an agent's files
 * are its own). `recorded: false`: the attempt no longer held the trial; nothing was stored.
 */
export async function pauseAtRung(
  d: {
    db: Db;
    queue: Pick<TrialQueue, 'enqueueTrials'>;
    log?: MinimalLogger;
    removeCheckpoints?: (trialId: string) => Promise<void>;
  },
  r: RungReport,
): Promise<RungPause> {
  const out = await reachRung(d.db, r);
  if (!out.recorded) return { recorded: false };
  for (const id of out.pruned) await d.removeCheckpoints?.(id).catch(() => {});
  if (out.deliveries.length)
    await d.queue
      .enqueueTrials(out.deliveries)
      .catch((err) =>
        d.log?.warn({ err, trialId: r.trialId }, 'could not enqueue the trials a rung promoted; the reconciler will'),
      );
  return {
    recorded: true,
    pruned: out.pruned.includes(r.trialId),
    promoted: out.deliveries.length,
    prunedTrials: out.pruned.length,
  };
}
