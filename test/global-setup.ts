import { randomBytes } from 'node:crypto';
import { migrate } from '@lrsweep/db';
import pg from 'pg';
import { databaseUrl, templateDatabase } from '@lrsweep/testkit';

/**
 * Builds the migrated template database that each test file clones (CREATE DATABASE … TEMPLATE),
 * named for this run (the test processes inherit LRSWEEP_TEST_TEMPLATE), and drops it afterwards.
 */
export default async function setup() {
  process.env.LRSWEEP_TEST_TEMPLATE ??= `lrsweep_test_template_${randomBytes(4).toString('hex')}`;
  const template = templateDatabase();
  const c = new pg.Client({ connectionString: databaseUrl('postgres') });
  try {
    await c.connect();
  } catch (err) {
    throw new Error(
      `The tests need PostgreSQL at ${databaseUrl('postgres')}: ${(err as Error).message}. Start it, or set TEST_DATABASE_URL.`,
    );
  }
  try {
    await c.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${template}"`);
  } finally {
    await c.end();
  }
  await migrate({ url: databaseUrl(template), createDatabase: false });
  return async () => {
    const d = new pg.Client({ connectionString: databaseUrl('postgres') });
    await d.connect();
    try {
      await d.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    } finally {
      await d.end();
    }
  };
}
