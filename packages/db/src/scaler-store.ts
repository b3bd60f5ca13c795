import type { Db } from './create-db';

export interface ScalerLeaseRow {
  holder: string;
  expiresAt: Date;
}

/**
 * Takes or renews the scaler lease of a project's pool for `holder`, for `ttlMs`: granted when
 * nobody holds it, when `holder` already does, or when the last holder let it lapse. Otherwise the
 * lease as its holder has it (one statement: two scalers racing for a free lease get one winner).
 */
export async function acquireScalerLease(
  db: Db,
  projectId: string,
  pool: string,
  holder: string,
  ttlMs: number,
): Promise<{ granted: boolean; lease: ScalerLeaseRow }> {
  const won = await db.$queryRaw<{ holder: string; expires_at: Date }[]>`
    INSERT INTO scaler_leases (project_id, pool, holder, expires_at)
    VALUES (${projectId}, ${pool}, ${holder}, now() + ${ttlMs} * interval '1 millisecond')
    ON CONFLICT (project_id, pool) DO UPDATE
       SET holder = excluded.holder, expires_at = excluded.expires_at,
           acquired_at = CASE WHEN scaler_leases.holder = excluded.holder THEN scaler_leases.acquired_at ELSE now() END
     WHERE scaler_leases.holder = excluded.holder OR scaler_leases.expires_at < now()
    RETURNING holder, expires_at`;
  if (won[0]) return { granted: true, lease: { holder: won[0].holder, expiresAt: won[0].expires_at } };
  const [held] = await db.$queryRaw<{ holder: string; expires_at: Date }[]>`
    SELECT holder, expires_at FROM scaler_leases WHERE project_id = ${projectId} AND pool = ${pool}`;
  // Released between the two statements: free now, so the caller may simply ask again.
  if (!held) return acquireScalerLease(db, projectId, pool, holder, ttlMs);
  return { granted: false, lease: { holder: held.holder, expiresAt: held.expires_at } };
}

/** Gives the lease up (only its holder can); whether it held it. */
export async function releaseScalerLease(db: Db, projectId: string, pool: string, holder: string): Promise<boolean> {
  const n = await db.$executeRaw`
    DELETE FROM scaler_leases WHERE project_id = ${projectId} AND pool = ${pool} AND holder = ${holder}`;
  return n > 0;
}
