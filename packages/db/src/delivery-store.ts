import type { Delivery } from '@lrsweep/contract';
import type { Db } from './create-db';
import { type DeliveryRow, expireLapsedLease, nextDelivery, nextDeliveryOf } from './trial-store';

/**
 * Gives a queued trial a new delivery: a fresh job id recorded in Postgres, as a compare-and-set
 * on the job id it had, so concurrent reconcilers hand out one delivery.
 */
export async function newDelivery(db: Db, trialId: string, onlyIfJob: string | null): Promise<Delivery | null> {
  const [t] = await db.$queryRaw<DeliveryRow[]>`
    SELECT t.deliveries, t.sweep_id, t.pool, s.project_id, s.runner_kind AS runner, t.queue_priority FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE t.id = ${trialId}::uuid`;
  if (!t) return null;
  const delivery = nextDeliveryOf(trialId, t);
  const n = await db.$executeRaw`
    UPDATE trials SET deliveries = ${t.deliveries + 1}::int, job_id = ${delivery.jobId}
     WHERE id = ${trialId}::uuid AND status = 'queued' AND deliveries = ${t.deliveries}::int AND job_id IS NOT DISTINCT FROM ${onlyIfJob}`;
  return n === 1 ? delivery : null;
}

/**
 * Trials Postgres says should be in the queue: queued ones (not those held back by their sweep's
 * `maxParallel`), and running ones whose lease has lapsed (their worker is gone:
 * `expireLapsedLease` counts the failure first). The reconciler checks each one's job in Redis.
 */
export async function trialsAwaitingDelivery(db: Db, limit: number) {
  const lapsed = await db.$queryRaw<{ id: string }[]>`
    SELECT id FROM trials WHERE status = 'running' AND lease_expires_at < now() ORDER BY queued_at LIMIT ${limit}`;
  for (const r of lapsed) await expireLapsedLease(db, r.id);
  return db.$queryRaw<
    {
      id: string;
      sweep_id: string;
      job_id: string | null;
      project_id: string;
      pool: string;
      runner: 'builtin' | 'external';
    }[]
  >`
    SELECT t.id, t.sweep_id, t.job_id, s.project_id, t.pool, s.runner_kind AS runner FROM trials t JOIN sweeps s ON s.id = t.sweep_id
     WHERE t.status = 'queued' AND s.cancelled_at IS NULL AND NOT t.fork_waiting AND NOT t.rung_waiting AND NOT (t.job_id IS NULL AND s.max_parallel IS NOT NULL)
     ORDER BY t.queued_at LIMIT ${limit}`;
}

/**
 * Starts held trials of a sweep with `maxParallel`, lowest ordinal first, while fewer than that
 * many are under way (running, or queued with a delivery): each gets a delivery (job id recorded
 * here, for the caller to enqueue). Under the sweep's row lock, so concurrent callers (workers
 * ending trials, the reconciler) never start more than the limit. Nothing for a sweep without one.
 */
export async function admitHeldTrials(db: Db, sweepId: string): Promise<Delivery[]> {
  return db.$transaction(async (tx) => {
    const [s] = await tx.$queryRaw<
      { max_parallel: number | null; project_id: string; runner: 'builtin' | 'external' }[]
    >`
      SELECT max_parallel, project_id, runner_kind AS runner FROM sweeps WHERE id = ${sweepId}::uuid AND cancelled_at IS NULL FOR UPDATE`;
    if (!s || s.max_parallel === null) return [];
    const [{ active } = { active: 0 }] = await tx.$queryRaw<{ active: number }[]>`
      SELECT count(*)::int AS active FROM trials
       WHERE sweep_id = ${sweepId}::uuid AND (status = 'running' OR (status = 'queued' AND job_id IS NOT NULL))`;
    const room = s.max_parallel - active;
    if (room <= 0) return [];
    const held = await tx.$queryRaw<{ id: string; deliveries: number; pool: string; priority: number }[]>`
      SELECT id, deliveries, pool, queue_priority AS priority FROM trials
       WHERE sweep_id = ${sweepId}::uuid AND status = 'queued' AND job_id IS NULL AND NOT fork_waiting AND NOT rung_waiting ORDER BY ordinal LIMIT ${room}`;
    if (!held.length) return [];
    const deliveries = held.map((t) =>
      nextDelivery({ trialId: t.id, sweepId, projectId: s.project_id, runner: s.runner, ...t }),
    );
    await tx.$executeRaw`
      UPDATE trials t SET deliveries = t.deliveries + 1, job_id = u.job_id
        FROM unnest(${held.map((t) => t.id)}::uuid[], ${deliveries.map((d) => d.jobId)}::text[]) AS u(id, job_id)
       WHERE t.id = u.id`;
    return deliveries;
  });
}

/** Sweeps with trials held back by `maxParallel` (the reconciler admits what it can of each). */
export async function sweepsWithHeldTrials(db: Db): Promise<string[]> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT DISTINCT t.sweep_id AS id FROM trials t JOIN sweeps s ON s.id = t.sweep_id
     WHERE t.status = 'queued' AND t.job_id IS NULL AND NOT t.fork_waiting AND NOT t.rung_waiting AND s.max_parallel IS NOT NULL AND s.cancelled_at IS NULL`;
  return rows.map((r) => r.id);
}

/** Marks a sweep cancelled and its queued and running trials with it. */
export async function cancelSweep(
  db: Db,
  sweepId: string,
): Promise<{ cancelled: { id: string; job_id: string | null }[] }> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`UPDATE sweeps SET cancelled_at = coalesce(cancelled_at, now()) WHERE id = ${sweepId}::uuid`;
    const cancelled = await tx.$queryRaw<{ id: string; job_id: string | null }[]>`
      UPDATE trials SET status = 'cancelled', finished_at = now(), lease_expires_at = NULL
       WHERE sweep_id = ${sweepId}::uuid AND status IN ('queued', 'running')
      RETURNING id, job_id`;
    return { cancelled };
  });
}

/**
 * Puts a sweep's failed trials back in the queue with new deliveries and a fresh failure budget
 * (a user's retry); none failed, nothing happens.
 */
export async function retryFailedTrials(db: Db, sweepId: string): Promise<{ retried: number; deliveries: Delivery[] }> {
  return db
    .$transaction(async (tx) => {
      const rows = await tx.$queryRaw<
        {
          id: string;
          deliveries: number;
          pool: string;
          project_id: string;
          runner: 'builtin' | 'external';
          queue_priority: number;
          max_parallel: number | null;
        }[]
      >`
      SELECT t.id, t.deliveries, t.pool, s.project_id, s.runner_kind AS runner, t.queue_priority, s.max_parallel FROM trials t JOIN sweeps s ON s.id = t.sweep_id
       WHERE t.sweep_id = ${sweepId}::uuid AND t.status = 'failed' FOR UPDATE OF t`;
      if (!rows.length) return { retried: 0, deliveries: [] };
      // A sweep with maxParallel: they wait, held, for admitHeldTrials (the caller's next step).
      const held = rows[0]!.max_parallel !== null;
      const deliveries = rows.map((r) => nextDeliveryOf(r.id, { ...r, sweep_id: sweepId }));
      const jobIds = deliveries.map((d) => (held ? null : d.jobId));
      await tx.$executeRaw`
      UPDATE trials t SET status = 'queued', error = NULL, error_code = NULL, finished_at = NULL, worker_id = NULL,
             failures = 0, deliveries = t.deliveries + (CASE WHEN u.job_id IS NULL THEN 0 ELSE 1 END), job_id = u.job_id
        FROM unnest(${rows.map((r) => r.id)}::uuid[], ${jobIds}::text[]) AS u(id, job_id)
       WHERE t.id = u.id`;
      if (held) return { retried: rows.length, deliveries: [] };
      return { retried: rows.length, deliveries };
    })
    .then(async (r) =>
      r.retried && !r.deliveries.length ? { ...r, deliveries: await admitHeldTrials(db, sweepId) } : r,
    );
}

/**
 * Deletes a sweep with its trials, metrics, configurations and series (the foreign keys
 * cascade), and its idempotency keys (a replayed key then creates the sweep anew). Running
 * trials are fenced like cancelled ones: their workers' next write or renewal fails and they
 * stop; each trial leaves a tombstone, so an agent's next write is told why (deleted). Returns the deleted trials' count and the jobs that were still to run.
 */
export async function deleteSweep(db: Db, sweepId: string): Promise<{ trials: number; jobIds: string[] }> {
  return db.$transaction(
    async (tx) => {
      const live = await tx.$queryRaw<{ job_id: string | null }[]>`
      SELECT job_id FROM trials WHERE sweep_id = ${sweepId}::uuid AND status IN ('queued', 'running') FOR UPDATE`;
      const [count] = await tx.$queryRaw<
        { n: number }[]
      >`SELECT count(*)::int AS n FROM trials WHERE sweep_id = ${sweepId}::uuid`;
      // Agents still training one of them are told "deleted" (409 STALE_ATTEMPT), not 404, while these last.
      await tx.$executeRaw`
      INSERT INTO trial_tombstones (trial_id, project_id, pool)
      SELECT t.id, s.project_id, t.pool FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE t.sweep_id = ${sweepId}::uuid
      ON CONFLICT (trial_id) DO NOTHING`;
      await tx.$executeRaw`DELETE FROM idempotency_keys WHERE sweep_id = ${sweepId}::uuid`;
      await tx.$executeRaw`DELETE FROM sweeps WHERE id = ${sweepId}::uuid`;
      return { trials: count?.n ?? 0, jobIds: live.flatMap((r) => (r.job_id ? [r.job_id] : [])) };
    },
    { timeout: 120_000 },
  );
}
