// The API's own test helper: buildApp() on a database and queue prefix of the test's own.
import { createDb, createToken, type DbHandle, ensureBootstrapToken } from '@lrsweep/db';
import { createRedis, createTrialQueue, type TrialQueue } from '@lrsweep/queue';
import { createTestDatabase, deletePrefix, redisUrl, type TestDatabase, uniquePrefix } from '@lrsweep/testkit';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { RedisConnection as Redis } from '@lrsweep/queue';
import { type App, type AppOptions, buildApp } from './app';

export interface ApiHarness {
  app: App;
  /** An admin token of the project `default`. */
  token: string;
  /** The operator token (as LRSWEEP_BOOTSTRAP_TOKEN would be): every project. */
  operator: string;
  /** `app.inject` with the admin token (or `token`) in the Authorization header. */
  inject(opts: InjectOptions | string, token?: string): Promise<LightMyRequestResponse>;
  db: TestDatabase;
  handle: DbHandle;
  redis: Redis;
  queue: TrialQueue;
  /** The BullMQ queue of project default's default pool, where the harness's sweeps go. */
  jobs: ReturnType<TrialQueue['queueOf']>;
  prefix: string;
  close(): Promise<void>;
}

/** `buildApp()` on a database and queue prefix of the test's own, for `app.inject()`. */
export async function createApiHarness(
  name: string,
  opts: Partial<Omit<AppOptions, 'db' | 'redis' | 'queue'>> = {},
): Promise<ApiHarness> {
  const db = await createTestDatabase(name);
  const handle = createDb({ url: db.url });
  const redis = createRedis(redisUrl);
  const prefix = uniquePrefix();
  const queue = createTrialQueue({ connection: redis, prefix });
  const app = await buildApp({ db: handle.prisma, redis, queue, ...opts });
  const { token } = await createToken(handle.prisma, { projectId: 'default', name: 'test admin', role: 'admin' });
  const operator = `lrs_operator-${prefix}`;
  await ensureBootstrapToken(handle.prisma, operator);
  return {
    app,
    token,
    operator,
    inject(o, as = token) {
      const req: InjectOptions = typeof o === 'string' ? { method: 'GET', url: o } : o;
      return app.inject({ ...req, headers: { authorization: `Bearer ${as}`, ...(req.headers ?? {}) } });
    },
    db,
    handle,
    redis,
    queue,
    jobs: queue.queueOf({ projectId: 'default', pool: 'default' }),
    prefix,
    async close() {
      await app.close();
      await queue.close();
      redis.disconnect();
      await handle.close();
      await db.drop();
      await deletePrefix(prefix);
    },
  };
}
