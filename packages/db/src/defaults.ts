/** The local development database when DATABASE_URL is not set. */
export const defaultDatabaseUrl = 'postgresql://postgres@127.0.0.1:5432/lrsweep';
