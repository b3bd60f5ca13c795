import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { databaseUrl, templateDatabase } from './services';

async function admin<T>(f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: databaseUrl('postgres') });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of the test's own, cloned from the template; drop() removes it. */
export async function createTestDatabase(prefix = 't'): Promise<TestDatabase> {
  const name = `lrsweep_${prefix}_${randomBytes(5).toString('hex')}`;
  for (let i = 0; ; i++) {
    try {
      await admin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${templateDatabase()}"`));
      break;
    } catch (err) {
      // Two clones at once: "source database is being accessed by other users". Retry.
      if (i >= 20 || (err as { code?: string }).code !== '55006') throw err;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  return {
    name,
    url: databaseUrl(name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {}),
  };
}

/** A new, empty database (no migrations applied); drop() removes it. */
export async function createEmptyDatabase(prefix = 'e'): Promise<TestDatabase> {
  const name = `lrsweep_${prefix}_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  return {
    name,
    url: databaseUrl(name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {}),
  };
}

/** Runs one query on a database with a short-lived connection. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(sql, params)).rows;
  } finally {
    await c.end();
  }
}
