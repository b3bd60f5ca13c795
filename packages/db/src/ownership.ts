import { Prisma } from './generated/prisma/client.ts';

/**
 * Ownership, spelled once: attempt `attempt` still holds trial `trialId` (the trial is running, on
 * that attempt). Every write an attempt makes — metric rows, checkpoints, run info, lease renewals,
 * finish, fail, release, pause, fork hand-off — is guarded by this condition, so an attempt whose
 * lease lapsed and whose trial moved on (a zombie worker, a partitioned agent) writes nothing. An
 * agent's lease token is fixed for the attempt, so the API checks it against the same row before it
 * writes (`agent-fence.ts`).
 *
 * `alias` is the trials table's alias where the statement names one (`FROM trials t`).
 */
export function heldBy(trialId: string, attempt: number, alias?: 't'): Prisma.Sql {
  const p = alias ? Prisma.raw(`${alias}.`) : Prisma.empty;
  return Prisma.sql`${p}id = ${trialId}::uuid AND ${p}attempt = ${attempt}::int AND ${p}status = 'running'`;
}

/** `heldBy` as a boolean expression any statement can test (an insert of metric rows, say). */
export function stillHeld(trialId: string, attempt: number): Prisma.Sql {
  return Prisma.sql`EXISTS (SELECT 1 FROM trials WHERE ${heldBy(trialId, attempt)})`;
}
