import { randomUUID } from 'node:crypto';
import type { Db } from './create-db';

/**
 * This deployment's id, made the first time it is asked for: the first worker to start inserts it,
 * every later caller (and any racing one) reads the same row. Not made by a migration, so a
 * template database cloned for tests, or migrated and copied before any worker ran, does not hand
 * one id to several deployments.
 */
export async function deploymentId(db: Db): Promise<string> {
  await db.$executeRaw`INSERT INTO deployment (singleton, id) VALUES (true, ${randomUUID()}::uuid)
    ON CONFLICT (singleton) DO NOTHING`;
  const [row] = await db.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM deployment WHERE singleton`;
  if (!row) throw new Error('the deployment row could not be written or read');
  return row.id;
}
