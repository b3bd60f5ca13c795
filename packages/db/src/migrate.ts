import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { MinimalLogger } from './create-db';

/** prisma/migrations at the repository root. */
export const defaultMigrationsDir = new URL('../../../prisma/migrations', import.meta.url).pathname;

// Prisma's own table and advisory-lock key, so `prisma migrate deploy` and this runner can be
// used on the same database interchangeably.
const PRISMA_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;
const PRISMA_LOCK_KEY = 72707369;

export interface MigrateOptions {
  url: string;
  migrationsDir?: string;
  logger?: MinimalLogger;
  /** Create the database first when it does not exist (default true). */
  createDatabase?: boolean;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
}

/** Creates the database named in `url` when it is missing. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    return true;
  } catch (err) {
    // Another process created it between our check and our CREATE.
    if ((err as { code?: string }).code === '42P04') return false;
    throw err;
  } finally {
    await client.end();
  }
}

/**
 * Applies the SQL migrations under `migrationsDir` (Prisma's `<timestamp>_<name>/migration.sql`
 * layout) in order, each in a transaction, recording them in `_prisma_migrations` the way
 * `prisma migrate deploy` does: id, sha256 checksum, timestamps, applied steps.
 */
export async function migrate(opts: MigrateOptions): Promise<MigrateResult> {
  const dir = opts.migrationsDir ?? defaultMigrationsDir;
  if (opts.createDatabase !== false && (await ensureDatabase(opts.url))) {
    opts.logger?.info({ database: new URL(opts.url).pathname.slice(1) }, 'created database');
  }
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort();
  const client = new pg.Client({ connectionString: opts.url });
  await client.connect();
  const result: MigrateResult = { applied: [], alreadyApplied: [] };
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_LOCK_KEY]);
    await client.query(PRISMA_TABLE);
    const { rows } = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
    );
    const done = new Map(rows.map((r) => [r.migration_name, r]));
    for (const name of names) {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const prior = done.get(name);
      if (prior?.finished_at) {
        if (prior.checksum !== checksum) {
          opts.logger?.warn({ migration: name }, 'migration was modified after it was applied');
        }
        result.alreadyApplied.push(name);
        continue;
      }
      if (prior) {
        throw new Error(`migration ${name} failed earlier and is not finished; resolve it before migrating again`);
      }
      const id = randomUUID();
      await client.query(
        'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)',
        [id, checksum, name],
      );
      try {
        await client.query('BEGIN');
        await client.query(sql);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        await client.query('UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1', [id, String(err)]);
        throw new Error(`migration ${name} failed: ${(err as Error).message}`);
      }
      await client.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [
        id,
      ]);
      opts.logger?.info({ migration: name }, 'applied migration');
      result.applied.push(name);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_LOCK_KEY]).catch(() => {});
    await client.end();
  }
  return result;
}
