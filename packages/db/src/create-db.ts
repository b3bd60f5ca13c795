import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client.ts';

export type Db = InstanceType<typeof PrismaClient>;

export interface MinimalLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface CreateDbOptions {
  url: string;
  logger?: MinimalLogger;
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

export interface DbHandle {
  prisma: Db;
  close(): Promise<void>;
}

/** The one way apps get a Prisma client: Prisma 7 on node-postgres through @prisma/adapter-pg. */
export function createDb(opts: CreateDbOptions): DbHandle {
  const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10 });
  // An idle client's error (a restarted server) must not crash the process; the pool replaces it.
  pool.on('error', (err) => opts.logger?.warn({ err }, 'postgres idle client error'));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    prisma,
    async close() {
      await prisma.$disconnect();
      await pool.end().catch(() => {});
    },
  };
}

/** A database URL with its password hidden (for messages). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

/** True when Postgres answers a query within `timeoutMs`; else why not, in a few words. */
export async function checkDatabase(db: Db, timeoutMs: number): Promise<true | string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      db.$queryRaw`SELECT 1`,
      new Promise(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)),
      ),
    ]);
    return true;
  } catch (err) {
    const e = err as { message?: string; cause?: { code?: string; message?: string } };
    const msg = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
    const line =
      msg
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .at(-1) ?? 'unknown error';
    // Prisma's driver errors wrap the reason: "Raw query failed. Code: `N/A`. Message: `<reason>`".
    return (/Message: `([^`]+)`/.exec(line)?.[1] ?? line).slice(0, 200);
  } finally {
    clearTimeout(timer);
  }
}
