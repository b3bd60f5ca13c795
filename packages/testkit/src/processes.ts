import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrapToken, redisUrl } from './services';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const tsxLoader = createRequire(import.meta.url).resolve('tsx');

export interface RunningProcess {
  proc: ChildProcess;
  /** Every line the process logged so far (pino JSON parsed where it is JSON). */
  lines: Record<string, unknown>[];
  waitFor(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  logFile?: string;
  /** Runs the process in this network namespace (`ip netns exec`: it becomes the process). */
  netns?: string;
}

/** Starts one of the apps as a real process (`node --import tsx`), capturing its log lines. */
export function startApp(app: 'api' | 'worker', env: Record<string, string>, opts: StartOptions = {}): RunningProcess {
  const entry = resolve(root, `apps/${app}/src/main.ts`);
  const argv = [process.execPath, '--import', tsxLoader, entry];
  const [cmd, ...args] = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv;
  const proc = spawn(cmd!, args, {
    cwd: resolve(root, `apps/${app}`),
    // Workers train on wasm unless a test asks for another backend: results stay the same
    // whether or not the native one is built here (the parity suite compares the two).
    env: { ...process.env, LOG_LEVEL: 'info', LRSWEEP_BACKEND: 'wasm', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] =
    [];
  const logStream = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : null;
  const onText = (chunk: Buffer) => {
    logStream?.write(chunk);
    for (const text of chunk.toString().split('\n')) {
      if (!text.trim()) continue;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { msg: text };
      }
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  };
  proc.stdout!.on('data', onText);
  proc.stderr!.on('data', onText);
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc,
    lines,
    waitFor(pred, timeoutMs = 30_000) {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((res, rej) => {
        const t = setTimeout(
          () =>
            rej(
              new Error(
                `${app}: timed out waiting; last lines:\n${lines
                  .slice(-10)
                  .map((l) => JSON.stringify(l))
                  .join('\n')}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({ pred, resolve: (l) => (clearTimeout(t), res(l)) });
        exited.then((code) =>
          rej(
            new Error(
              `${app} exited (${code}) while waiting; last lines:\n${lines
                .slice(-10)
                .map((l) => JSON.stringify(l))
                .join('\n')}`,
            ),
          ),
        );
      });
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
  };
}

/** Starts the API on a free port and resolves once it listens; `url` is its base address. */
export async function startApi(env: Record<string, string>, opts: StartOptions = {}) {
  const p = startApp('api', { PORT: '0', ...env }, opts);
  const line = await p.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('Server listening at'));
  const url = String(line.msg).replace('Server listening at ', '');
  return { ...p, url };
}

export async function startWorker(env: Record<string, string>, opts: StartOptions = {}) {
  const p = startApp('worker', env, opts);
  await p.waitFor((l) => l.msg === 'worker started', 60_000);
  return p;
}

/**
 * The environment of an API and workers for fault tests: a database and queue prefix of their
 * own, and leases short enough that a killed worker's trial moves on within seconds, long enough
 * that a live worker's renewals (every third of it) survive the event-loop stalls of a loaded CI
 * machine (at 1.5 s a busy successor once lost a lease it held).
 */
export function faultTestEnv(
  o: { databaseUrl: string; prefix: string; checkpointDir: string; checkpointEvery?: number },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: o.prefix,
    LRSWEEP_BOOTSTRAP_TOKEN: bootstrapToken,
    CHECKPOINT_DIR: o.checkpointDir,
    CHECKPOINT_EVERY: String(o.checkpointEvery ?? 20),
    LEASE_MS: '3000',
    LOCK_DURATION_MS: '3000',
    STALLED_INTERVAL_MS: '1000',
    METRICS_FLUSH_MS: '100',
    RECONCILE_INTERVAL_MS: '1000',
    ...extra,
  };
}
