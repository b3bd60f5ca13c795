import { createClient, type LrsweepClient } from '@lrsweep/client';
import { createTestDatabase, type TestDatabase } from './databases';
import { apiClient } from './http';
import { type RunningProcess, startApi, startWorker } from './processes';
import { deletePrefix, uniquePrefix } from './redis';
import { bootstrapToken, redisUrl } from './services';

export interface Stack {
  db: TestDatabase;
  prefix: string;
  /** The environment the processes were started with. */
  env: Record<string, string>;
  api: Awaited<ReturnType<typeof startApi>>;
  workers: RunningProcess[];
  /** A raw HTTP client of the API with the bootstrap (admin) token, for statuses and error bodies. */
  client: ReturnType<typeof apiClient>;
  /** The typed client (@lrsweep/client) the CLI and dashboard use, with the bootstrap token. */
  lrsweep: LrsweepClient;
  stop(): Promise<void>;
}

/**
 * Everything an end-to-end test runs against: a database of its own, a queue prefix of its own,
 * the API and `workers` worker processes; `stop()` ends and removes all of it.
 */
export async function startStack(
  name: string,
  opts: { workers?: number; env?: Record<string, string> } = {},
): Promise<Stack> {
  const db = await createTestDatabase(name);
  const prefix = uniquePrefix();
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    LRSWEEP_BOOTSTRAP_TOKEN: bootstrapToken,
    ...opts.env,
  };
  const api = await startApi(env);
  const workers = await Promise.all(
    Array.from({ length: opts.workers ?? 1 }, (_, i) => startWorker({ ...env, WORKER_ID: `${name}-${i + 1}` })),
  );
  return {
    db,
    prefix,
    env,
    api,
    workers,
    client: apiClient(api.url, bootstrapToken),
    lrsweep: createClient({ baseUrl: api.url, token: bootstrapToken }),
    async stop() {
      await Promise.all([api, ...workers].map((p) => p.stop()));
      await db.drop();
      await deletePrefix(prefix);
    },
  };
}

/**
 * Follows a sweep to its end: 'finished', or at once why `worker` exited first (a worker that dies
 * never finishes a sweep: the test reads why instead of timing out).
 */
export function finishOrWorkerDies(stack: Stack, worker: RunningProcess): (sweepId: string) => Promise<string> {
  const died = new Promise<string>((r) =>
    worker.proc.once('exit', (code, signal) => r(`the worker exited (${code ?? signal})`)),
  );
  return (sweepId) => Promise.race([stack.lrsweep.follow(sweepId, () => {}, 250).then(() => 'finished'), died]);
}
