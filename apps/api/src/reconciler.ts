import { type Db, pruneFleetRegistry, pruneTombstones } from '@lrsweep/db';
import {
  admitHeldTrials,
  decideRungs,
  newDelivery,
  releaseOrphanForks,
  sweepsWaitingAtRungs,
  sweepsWithHeldTrials,
  trialsAwaitingDelivery,
} from '@lrsweep/engine';
import type { TrialQueue } from '@lrsweep/queue';
import type { Logger } from 'pino';

/** How long a deleted sweep's trials keep their tombstones, unless AGENT_STALL_MS is longer. */
export const tombstoneDefaultMs = 24 * 3600 * 1000;

/** Job states in which a delivery is still on its way to a worker. */
const alive = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

/**
 * Postgres is the source of truth, Redis only delivers: every trial Postgres says should be in
 * the queue (queued; a running one whose lease lapsed is first counted as a failed attempt, and
 * fails once its budget is spent) but whose job Redis no longer holds (a flushed or failed-over
 * Redis, an enqueue that never happened) gets a fresh delivery. Safe to run from several API
 * processes: a delivery is handed out by compare-and-set.
 */
export async function reconcileOnce(deps: {
  db: Db;
  queue: TrialQueue;
  log?: Logger;
  batch?: number;
  onRedelivered?: (n: number) => void;
  tombstoneMs?: number;
}): Promise<number> {
  const rows = await trialsAwaitingDelivery(deps.db, deps.batch ?? 10_000);
  let redelivered = 0;
  for (let i = 0; i < rows.length; i += 200) {
    const chunk = rows.slice(i, i + 200);
    const states = await Promise.all(
      chunk.map((r) =>
        r.job_id
          ? deps.queue.jobState({ projectId: r.project_id, pool: r.pool, runner: r.runner }, r.job_id)
          : Promise.resolve('unknown'),
      ),
    );
    for (const [k, r] of chunk.entries()) {
      if (alive.has(states[k]!)) continue;
      const d = await newDelivery(deps.db, r.id, r.job_id);
      if (!d) continue;
      await deps.queue.enqueueTrials([d]);
      redelivered++;
    }
  }
  if (redelivered) {
    deps.log?.warn({ redelivered }, 'reconciler re-enqueued trials Redis had lost');
    deps.onRedelivered?.(redelivered);
  }
  // Held trials (maxParallel) whose turn came while no worker said so (one died as a trial ended).
  for (const sweepId of await sweepsWithHeldTrials(deps.db)) {
    const admitted = await admitHeldTrials(deps.db, sweepId);
    if (admitted.length) await deps.queue.enqueueTrials(admitted);
  }
  // Forks whose trunk ended without handing them a checkpoint (its worker died as it ended).
  const orphans = await releaseOrphanForks(deps.db);
  if (orphans.length) await deps.queue.enqueueTrials(orphans);
  // ASHA rungs whose decision is due but was not taken (a trial failed by a lapsed lease, a worker that died deciding).
  for (const sweepId of await sweepsWaitingAtRungs(deps.db)) {
    const { deliveries } = await decideRungs(deps.db, sweepId);
    if (deliveries.length) await deps.queue.enqueueTrials(deliveries);
  }
  await pruneFleetRegistry(deps.db);
  // A deleted sweep's trials answer agents "deleted" for a day (longer than AGENT_STALL_MS: an agent reports within it or loses the trial).
  await pruneTombstones(deps.db, deps.tombstoneMs ?? tombstoneDefaultMs);
  return redelivered;
}

/** Runs the reconciler now and every `intervalMs`; errors are logged and retried next time. */
export function startReconciler(deps: {
  db: Db;
  queue: TrialQueue;
  log: Logger;
  intervalMs: number;
  onRedelivered?: (n: number) => void;
  tombstoneMs?: number;
}) {
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = reconcileOnce(deps).catch((err) => deps.log.warn({ err }, 'reconcile failed'));
  };
  tick();
  const timer = setInterval(tick, deps.intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
