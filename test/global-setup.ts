import { migrate } from '@lrsweep/db';
import pg from 'pg';
import { databaseUrl, templateDatabase } from '@lrsweep/testkit';

/** Builds the migrated template database that each test file clones (CREATE DATABASE … TEMPLATE). */
export default async function setup() {
  const c = new pg.Client({ connectionString: databaseUrl('postgres') });
  try {
    await c.connect();
  } catch (err) {
    throw new Error(`The tests need PostgreSQL at ${databaseUrl('postgres')}: ${(err as Error).message}. Start it, or set TEST_DATABASE_URL.`);
  }
  try {
    await c.query(`DROP DATABASE IF EXISTS "${templateDatabase}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${templateDatabase}"`);
  } finally {
    await c.end();
  }
  await migrate({ url: databaseUrl(templateDatabase), createDatabase: false });
}
