import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from './databases';
import { apiClient } from './http';
import { faultTestEnv, type RunningProcess, startApi, startWorker } from './processes';
import { deletePrefix, uniquePrefix } from './redis';
import { bootstrapToken } from './services';

export interface FaultStack {
  db: TestDatabase;
  /** The environment the API and workers start with (faultTestEnv: short leases, frequent checkpoints). */
  env: Record<string, string>;
  checkpointDir: string;
  /** A raw HTTP client of the API with the bootstrap (admin) token. */
  api: ReturnType<typeof apiClient>;
  /** The API's base address (for agents and other clients of their own). */
  apiUrl: string;
  /** Starts a worker named `id` (its environment: the stack's, then `env`); stopped with the stack. */
  worker(id: string, env?: Record<string, string>): Promise<RunningProcess>;
  stop(): Promise<void>;
}

/**
 * What a fault test runs against: a database, queue prefix and checkpoint directory of its own, the
 * API, and workers the test starts (and kills) at its own pace. `stop()` kills every process
 * (SIGKILL: nothing of a fault test's is kept) and removes all of it.
 */
export async function startFaultStack(
  name: string,
  opts: { checkpointEvery?: number; env?: Record<string, string>; apiEnv?: Record<string, string> } = {},
): Promise<FaultStack> {
  const db = await createTestDatabase(name);
  const prefix = uniquePrefix();
  const checkpointDir = mkdtempSync(join(tmpdir(), `lrsweep-${name}-`));
  const env = faultTestEnv(
    { databaseUrl: db.url, prefix, checkpointDir, checkpointEvery: opts.checkpointEvery },
    { WORKER_SLOTS: '1', ...opts.env },
  );
  const procs: RunningProcess[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await db.drop();
    await deletePrefix(prefix);
    rmSync(checkpointDir, { recursive: true, force: true });
  };
  try {
    const a = await startApi({ ...env, ...opts.apiEnv });
    procs.push(a);
    return {
      db,
      env,
      checkpointDir,
      api: apiClient(a.url, bootstrapToken),
      apiUrl: a.url,
      async worker(id, extra = {}) {
        const w = await startWorker({ ...env, WORKER_ID: id, ...extra });
        procs.push(w);
        return w;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
