import type { Db } from './create-db';

/** The BullMQ job id of a trial's n-th delivery (the first keeps the plain id). */
export const deliveryJobId = (trialId: string, delivery: number) => (delivery <= 1 ? `trial-${trialId}` : `trial-${trialId}-d${delivery}`);

export interface Delivery {
  trialId: string;
  sweepId: string;
  jobId: string;
}

/**
 * Gives a trial a new delivery: a fresh job id recorded in Postgres. `onlyIfJob` makes it a
 * compare-and-set on the current job id, so concurrent reconcilers hand out one delivery.
 */
export async function newDelivery(db: Db, trialId: string, onlyIfJob?: string | null): Promise<Delivery | null> {
  const rows = await db.$queryRaw<{ sweep_id: string; deliveries: number }[]>`
    UPDATE trials SET deliveries = deliveries + 1,
           job_id = 'trial-' || id::text || '-d' || (deliveries + 1)::text
     WHERE id = ${trialId}::uuid
       AND (${onlyIfJob === undefined} OR job_id IS NOT DISTINCT FROM ${onlyIfJob ?? null})
    RETURNING sweep_id, deliveries`;
  const r = rows[0];
  return r ? { trialId, sweepId: r.sweep_id, jobId: deliveryJobId(trialId, r.deliveries) } : null;
}

/**
 * Trials Postgres says should be in the queue: queued ones, and running ones whose lease has
 * lapsed (their worker is gone). The reconciler checks each one's job in Redis.
 */
export async function trialsAwaitingDelivery(db: Db, limit: number) {
  return db.$queryRaw<{ id: string; sweep_id: string; job_id: string | null; status: string }[]>`
    SELECT t.id, t.sweep_id, t.job_id, t.status::text AS status FROM trials t
     WHERE t.status = 'queued' OR (t.status = 'running' AND t.lease_expires_at < now())
     ORDER BY t.queued_at LIMIT ${limit}`;
}

/** Marks a sweep cancelled and its queued and running trials with it; repeated calls change nothing. */
export async function cancelSweep(db: Db, sweepId: string): Promise<{ cancelled: { id: string; job_id: string | null }[] }> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`UPDATE sweeps SET cancelled_at = coalesce(cancelled_at, now()) WHERE id = ${sweepId}::uuid`;
    const cancelled = await tx.$queryRaw<{ id: string; job_id: string | null }[]>`
      UPDATE trials SET status = 'cancelled', finished_at = now(), lease_expires_at = NULL
       WHERE sweep_id = ${sweepId}::uuid AND status IN ('queued', 'running')
      RETURNING id, job_id`;
    return { cancelled };
  });
}

/** Puts a sweep's failed trials back in the queue with new deliveries; none left, nothing happens. */
export async function retryFailedTrials(db: Db, sweepId: string): Promise<Delivery[]> {
  const rows = await db.$queryRaw<{ id: string; deliveries: number }[]>`
    UPDATE trials SET status = 'queued', error = NULL, finished_at = NULL, worker_id = NULL,
           deliveries = deliveries + 1, job_id = 'trial-' || id::text || '-d' || (deliveries + 1)::text
     WHERE sweep_id = ${sweepId}::uuid AND status = 'failed'
    RETURNING id, deliveries`;
  return rows.map((r) => ({ trialId: r.id, sweepId, jobId: deliveryJobId(r.id, r.deliveries) }));
}
