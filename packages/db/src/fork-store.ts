import type { Delivery } from '@lrsweep/contract';
import type { Db } from './create-db';
import { admitHeldTrials } from './delivery-store';
import { heldBy } from './ownership';
import { nextDeliveryOf } from './trial-store';

/**
 * Forked cooldowns (packages/sweep forks.ts): a fork is stored waiting (no delivery) until its
 * trunk, passing the fork's decay start, hands it a checkpoint taken there; the fork then runs
 * only its cooldown, from that checkpoint. A trunk that ends without handing off (it diverged or
 * failed first, or resumed past the fork point after a handoff that did not commit) releases its
 * forks to run independently: the same results, only dearer.
 */

/** The waiting fork a trunk hands off to at a fork point, by its identity (null: nothing waits). */
export async function waitingFork(db: Db, identity: string, trunk: string): Promise<{ id: string } | null> {
  const [r] = await db.$queryRaw<{ id: string }[]>`
    SELECT id FROM trials WHERE identity = ${identity} AND fork_of = ${trunk} AND fork_waiting AND status = 'queued'`;
  return r ?? null;
}

export interface Handoff {
  trunkId: string;
  /** The trunk's attempt: a handoff from an attempt that no longer owns the trunk is refused. */
  trunkAttempt: number;
  forkId: string;
  /** The checkpoint written for the fork, and the update it was taken after (the fork point). */
  checkpointPath: string;
  step: number;
  /** The trunk's backend: the fork trains on the same one, so its results are bit-identical. */
  backend: 'wasm' | 'tensorflow' | null;
}

/**
 * Hands a waiting fork its checkpoint, in one transaction: the fork gets the checkpoint, the
 * trunk's backend, a copy of the trunk's rows before the fork point (updates before it, and the
 * evaluations up to it: the fork's /metrics start at update 0) and a delivery (or, in a sweep with
 * maxParallel, its place among the held trials). False when the trunk's attempt is no longer the
 * owner or the fork no longer waits: the caller removes the checkpoint it wrote.
 */
export async function handOffFork(db: Db, h: Handoff): Promise<{ handedOff: boolean; deliveries: Delivery[] }> {
  const r = await db.$transaction(async (tx) => {
    const [owner] = await tx.$queryRaw<{ identity: string }[]>`
      SELECT identity FROM trials WHERE ${heldBy(h.trunkId, h.trunkAttempt)} FOR SHARE`;
    if (!owner) return null;
    const [f] = await tx.$queryRaw<
      {
        deliveries: number;
        sweep_id: string;
        pool: string;
        project_id: string;
        runner: 'builtin' | 'external';
        queue_priority: number;
        max_parallel: number | null;
      }[]
    >`
      SELECT t.deliveries, t.sweep_id, t.pool, s.project_id, s.runner_kind AS runner, t.queue_priority, s.max_parallel
        FROM trials t JOIN sweeps s ON s.id = t.sweep_id
       WHERE t.id = ${h.forkId}::uuid AND t.fork_of = ${owner.identity} AND t.fork_waiting AND t.status = 'queued' AND s.cancelled_at IS NULL FOR UPDATE OF t`;
    if (!f) return null;
    // Under maxParallel the fork waits its turn (admitHeldTrials); otherwise it is delivered now.
    const delivery = f.max_parallel === null ? nextDeliveryOf(h.forkId, f) : null;
    const jobId = delivery?.jobId ?? null;
    await tx.$executeRaw`
      UPDATE trials SET fork_waiting = false, checkpoint_path = ${h.checkpointPath}, checkpoint_step = ${h.step},
             job_id = ${jobId}, deliveries = deliveries + ${jobId ? 1 : 0}::int,
             config = CASE WHEN ${h.backend}::text IS NULL THEN config ELSE jsonb_set(config, '{training,backend}', to_jsonb(${h.backend}::text)) END
       WHERE id = ${h.forkId}::uuid`;
    await tx.$executeRaw`
      INSERT INTO update_metrics (trial_id, step, lr, train_loss, attempt)
      SELECT ${h.forkId}::uuid, step, lr, train_loss, 0 FROM update_metrics WHERE trial_id = ${h.trunkId}::uuid AND step < ${h.step}
      ON CONFLICT (trial_id, step) DO NOTHING`;
    await tx.$executeRaw`
      INSERT INTO evaluations (trial_id, step, val_loss, val_acc, train_loss, metrics, attempt)
      SELECT ${h.forkId}::uuid, step, val_loss, val_acc, train_loss, metrics, 0 FROM evaluations WHERE trial_id = ${h.trunkId}::uuid AND step <= ${h.step}
      ON CONFLICT (trial_id, step) DO NOTHING`;
    return { sweepId: f.sweep_id, delivery };
  });
  if (!r) return { handedOff: false, deliveries: [] };
  return { handedOff: true, deliveries: r.delivery ? [r.delivery] : await admitHeldTrials(db, r.sweepId) };
}

/**
 * Forks whose trunk has ended (or is gone) while they still wait, of one trunk (its identity) or
 * of all: each runs independently from update 0 instead (its fork fields cleared). Answers their
 * deliveries, to enqueue. The worker calls it as a trunk ends; the reconciler as a backstop.
 */
export async function releaseOrphanForks(db: Db, trunk?: string): Promise<Delivery[]> {
  const orphans = await db.$queryRaw<
    {
      id: string;
      deliveries: number;
      sweep_id: string;
      pool: string;
      project_id: string;
      runner: 'builtin' | 'external';
      queue_priority: number;
      max_parallel: number | null;
    }[]
  >`
    SELECT f.id, f.deliveries, f.sweep_id, f.pool, s.project_id, s.runner_kind AS runner, f.queue_priority, s.max_parallel
      FROM trials f JOIN sweeps s ON s.id = f.sweep_id
     WHERE f.fork_waiting AND f.status = 'queued' AND (${trunk ?? null}::text IS NULL OR f.fork_of = ${trunk ?? null}::text)
       AND NOT EXISTS (SELECT 1 FROM trials t WHERE t.identity = f.fork_of AND t.status IN ('queued', 'running'))`;
  if (!orphans.length) return [];
  const next = orphans.map((o) => (o.max_parallel === null ? nextDeliveryOf(o.id, o) : null));
  const jobIds = next.map((d) => d?.jobId ?? null);
  const released = await db.$queryRaw<{ id: string }[]>`
    UPDATE trials t SET fork_waiting = false, fork_of = NULL, fork_step = NULL, job_id = u.job_id,
           deliveries = t.deliveries + (CASE WHEN u.job_id IS NULL THEN 0 ELSE 1 END)
      FROM unnest(${orphans.map((o) => o.id)}::uuid[], ${jobIds}::text[]) AS u(id, job_id)
     WHERE t.id = u.id AND t.fork_waiting AND t.status = 'queued'
    RETURNING t.id`;
  const done = new Set(released.map((r) => r.id));
  const out: Delivery[] = [];
  orphans.forEach((o, i) => {
    const d = next[i];
    if (done.has(o.id) && d) out.push(d);
  });
  for (const sweepId of new Set(orphans.filter((o, i) => done.has(o.id) && !jobIds[i]).map((o) => o.sweep_id)))
    out.push(...(await admitHeldTrials(db, sweepId)));
  return out;
}

/** A sweep's forking plan as stored: trunks, forks, and updates trained with forks against without. */
export async function forkPlanOf(
  db: Db,
  sweepId: string,
): Promise<{ trunks: number; forks: number; updates: number; independentUpdates: number }> {
  const [r] = await db.$queryRaw<{ trunks: number; forks: number; updates: number; independent: number }[]>`
    SELECT count(DISTINCT fork_of)::int AS trunks, count(fork_of)::int AS forks,
           coalesce(sum(total_steps - coalesce(fork_step, 0)), 0)::int AS updates, coalesce(sum(total_steps), 0)::int AS independent
      FROM trials WHERE sweep_id = ${sweepId}::uuid`;
  return {
    trunks: r?.trunks ?? 0,
    forks: r?.forks ?? 0,
    updates: r?.updates ?? 0,
    independentUpdates: r?.independent ?? 0,
  };
}
