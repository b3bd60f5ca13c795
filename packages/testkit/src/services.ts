/** Where the tests find Postgres and Redis: TEST_* or the usual variables, else the local services. */
export const pgBaseUrl = (() => {
  const u = new URL(
    process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
  );
  u.pathname = '/';
  return u;
})();

export const redisUrl = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * The migrated database every test database is cloned from: one per test run (global-setup names
 * it in LRSWEEP_TEST_TEMPLATE and drops it at the end), so two runs against one Postgres never
 * drop each other's.
 */
export const templateDatabase = () => process.env.LRSWEEP_TEST_TEMPLATE ?? 'lrsweep_test_template';

export function databaseUrl(name: string): string {
  const u = new URL(pgBaseUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** The admin token the API processes of a test are started with (LRSWEEP_BOOTSTRAP_TOKEN). */
export const bootstrapToken = 'lrs_test-bootstrap-token-0123456789';
