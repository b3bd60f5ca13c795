import { buildApp, type App, type AppOptions } from '@lrsweep/api';
import { createDb, type DbHandle } from '@lrsweep/db';
import { createRedis, createTrialQueue, type TrialQueue } from '@lrsweep/queue';
import type { Redis } from 'ioredis';
import { createTestDatabase, type TestDatabase } from './databases';
import { deletePrefix, uniquePrefix } from './redis';
import { redisUrl } from './services';

export interface ApiHarness {
  app: App;
  db: TestDatabase;
  handle: DbHandle;
  redis: Redis;
  queue: TrialQueue;
  prefix: string;
  close(): Promise<void>;
}

/** `buildApp()` on a database and queue prefix of the test's own, for `app.inject()`. */
export async function createApiHarness(name: string, opts: Partial<Omit<AppOptions, 'db' | 'redis' | 'queue'>> = {}): Promise<ApiHarness> {
  const db = await createTestDatabase(name);
  const handle = createDb({ url: db.url });
  const redis = createRedis(redisUrl);
  const prefix = uniquePrefix();
  const queue = createTrialQueue({ connection: redis, prefix });
  const app = await buildApp({ db: handle.prisma, redis, queue, ...opts });
  return {
    app,
    db,
    handle,
    redis,
    queue,
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
