import type { Db, MinimalLogger } from '@lrsweep/db';
import { admitHeldTrials, decideRungs, releaseOrphanForks } from './transitions';
import { type Delivery, enqueueDue, type TrialQueue } from '@lrsweep/queue';
import { type AttemptEnd, unreachable } from './outcomes';

export interface AfterTrialDeps {
  db: Db;
  queue: Pick<TrialQueue, 'enqueueTrials'>;
  log?: MinimalLogger;
  /** Removes a pruned trial's checkpoints at once (workers; an agent's checkpoints are its own). */
  removeCheckpoints?: (trialId: string) => Promise<void>;
}

/** What `afterTrial` needs of the trial whose attempt ended. */
export interface EndedTrial {
  trialId: string;
  sweepId: string;
  /** The trial's identity (a trunk's forks wait on it). */
  identity: string;
  /** The sweep's maxParallel: held trials wait for a place. */
  maxParallel: number | null;
  /** The trial's config: its `forks` (a horizon trunk) and `asha` say which search steps apply. */
  config: unknown;
}

/** What afterTrial made due, by cause (deliveries enqueued; trials pruned at rungs). */
export interface AfterTrialResult {
  admitted: number;
  orphanForks: number;
  decided: { promoted: number; pruned: number };
}

const searchOf = (config: unknown) => {
  const c = (config ?? {}) as { forks?: unknown[]; asha?: unknown };
  return { forks: (c.forks?.length ?? 0) > 0, asha: c.asha !== undefined && c.asha !== null };
};

/**
 * What an attempt's end makes due for others, the same for a built-in worker's trial and an
 * agent's: the next held trials of a maxParallel sweep start; forks a trunk never reached run
 * independently; the sweep's ASHA rungs may be settled (fewer configurations pending). The
 * reconciler does each of these too, so a failure here loses nothing: it is logged, and the
 * work waits for the reconciler's next pass.
 */
export async function afterTrial(d: AfterTrialDeps, trial: EndedTrial, end: AttemptEnd): Promise<AfterTrialResult> {
  const result: AfterTrialResult = { admitted: 0, orphanForks: 0, decided: { promoted: 0, pruned: 0 } };
  const due = async (what: string, work: () => Promise<{ deliveries: Delivery[]; pruned?: string[] }>) => {
    const r = await enqueueDue(
      d.queue,
      async () => {
        const r = await work();
        for (const id of r.pruned ?? []) await d.removeCheckpoints?.(id).catch(() => {});
        return r;
      },
      (err) => d.log?.warn({ err, sweepId: trial.sweepId }, `could not ${what}; the reconciler will`),
    );
    return { deliveries: r?.deliveries.length ?? 0, pruned: r?.pruned?.length ?? 0 };
  };
  let admit: boolean;
  let decide: boolean;
  switch (end.kind) {
    case 'released':
      // Handed back, still live: nothing changed for anyone else.
      return result;
    case 'paused':
      // reachRung already took the rung's decisions this pause settles.
      admit = true;
      decide = false;
      break;
    case 'completed':
    case 'diverged':
    case 'failed':
    case 'retried':
    case 'superseded':
      admit = true;
      decide = true;
      break;
    default:
      return unreachable(end);
  }
  const search = searchOf(trial.config);
  if (admit && trial.maxParallel !== null) {
    result.admitted = (
      await due('start the next held trial of the sweep', async () => ({
        deliveries: await admitHeldTrials(d.db, trial.sweepId),
      }))
    ).deliveries;
  }
  if (search.forks) {
    result.orphanForks = (
      await due("release the trunk's waiting forks", async () => ({
        deliveries: await releaseOrphanForks(d.db, trial.identity),
      }))
    ).deliveries;
    if (result.orphanForks)
      d.log?.info({ forks: result.orphanForks }, 'forks the trunk did not reach run independently');
  }
  if (decide && search.asha) {
    const r = await due("take the sweep's rung decisions", () => decideRungs(d.db, trial.sweepId));
    result.decided = { promoted: r.deliveries, pruned: r.pruned };
  }
  return result;
}
