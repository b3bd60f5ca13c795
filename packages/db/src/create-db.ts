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
