// What the offline bundle's `up` (and `proof`) start: Postgres (DATABASE_URL, else the embedded
// one in the data directory), Redis (REDIS_URL, else the bundle's redis-server), the migrations,
// the API and the workers, each a child process of the launcher that is restarted if it dies.
import { randomBytes } from 'node:crypto';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from '@lrsweep/db';
import { createRedis } from '@lrsweep/queue';
import { freePort } from '@lrsweep/testkit/free-port';
import { startEmbeddedPostgres } from '../lib/embedded-postgres';

/** The bundle's root: this file is bundled into <root>/app/. */
export const bundleRoot = resolve(process.env.LRSWEEP_HOME ?? fileURLToPath(new URL('..', import.meta.url)));
const say = (s: string) => process.stdout.write(`${s}\n`);

export interface UpOptions {
  dataDir: string;
  workers: number;
  port: number;
  host: string;
  /** Extra environment for the API (a proof's short leases). */
  apiEnv?: Record<string, string>;
}

export interface Up {
  url: string;
  token: string;
  databaseUrl: string;
  redisUrl: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** A one-sentence failure: printed as it is, never with a stack. */
export class UpError extends Error {}

/** `--name value` options of a command, each checked: a bad one is one line naming it. */
export function options(args: string[], known: Record<string, 'int' | 'string'>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = a.replace(/^--/, '');
    const kind = known[name];
    if (!a.startsWith('--') || !kind)
      throw new UpError(
        `✗ unknown option ${a} (known: ${Object.keys(known)
          .map((k) => `--${k}`)
          .join(', ')})`,
      );
    const v = args[++i];
    if (v === undefined) throw new UpError(`✗ --${name} needs a value`);
    if (kind === 'int') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UpError(`✗ --${name} must be a whole number ≥ 0 (got '${v}')`);
      out[name] = n;
    } else out[name] = v;
  }
  return out;
}

export async function up(o: UpOptions): Promise<Up> {
  const dataDir = resolve(o.dataDir);
  const logs = join(dataDir, 'logs');
  mkdirSync(logs, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => {});
  };
  const note = say;
  await stopLeftovers(dataDir, note);
  try {
    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres({
        dataDir: join(dataDir, 'postgres'),
        keep: true,
        credentialsFile: join(dataDir, 'postgres-credentials.json'),
      });
      if (pg === null)
        throw new UpError('✗ This bundle has no embedded Postgres: set DATABASE_URL to a Postgres ≥ 14.');
      if ('problem' in pg) throw new UpError(pg.problem);
      stops.push(() => pg.stop());
      databaseUrl = pg.url;
      note(
        `• Postgres: embedded, ${pg.created ? 'created' : 'kept'} in ${pg.dataDir}${pg.moved ? " (the user 'postgres' cannot write the data directory: this cluster is not kept)" : ''}, port ${pg.port}`,
      );
    } else note(`• Postgres: DATABASE_URL (${new URL(databaseUrl).host})`);
    const m = await migrate({ url: databaseUrl, migrationsDir: join(bundleRoot, 'migrations') });
    note(`• database migrated (${m.applied.length} applied, ${m.alreadyApplied.length} already)`);

    let redisUrl = process.env.REDIS_URL;
    if (!redisUrl) {
      const r = await startBundledRedis(join(dataDir, 'redis'), join(logs, 'redis.log'));
      stops.push(r.stop);
      redisUrl = r.url;
      note(`• Redis: the bundle's redis-server, port ${r.port}, append-only file in ${join(dataDir, 'redis')}`);
    } else note(`• Redis: REDIS_URL (${new URL(redisUrl).host})`);

    const token = process.env.LRSWEEP_BOOTSTRAP_TOKEN ?? adminToken(join(dataDir, 'admin-token'));
    const common = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    };
    const api = supervise('api', 'api', join(logs, 'api.log'), {
      ...common,
      ...o.apiEnv,
      PORT: String(o.port),
      HOST: o.host,
      DASHBOARD_DIR: join(bundleRoot, 'dashboard'),
      LRSWEEP_BOOTSTRAP_TOKEN: token,
    });
    stops.push(api.stop);
    const url = `http://${o.host === '0.0.0.0' ? '127.0.0.1' : o.host}:${o.port}`;
    await waitForApi(url, join(logs, 'api.log'));
    note(`• API and dashboard at ${url} (log: ${join(logs, 'api.log')})`);
    for (let i = 1; i <= o.workers; i++) {
      const w = supervise(`worker-${i}`, 'worker', join(logs, `worker-${i}.log`), {
        ...common,
        WORKER_ID: `${hostname()}-${i}`,
        CHECKPOINT_DIR: process.env.CHECKPOINT_DIR ?? join(dataDir, 'checkpoints'),
      });
      stops.push(w.stop); // stopped in reverse: workers first (they checkpoint and release their trials)
    }
    if (o.workers) note(`• ${o.workers} worker${o.workers > 1 ? 's' : ''} (wasm backend; logs in ${logs})`);
    return { url, token, databaseUrl, redisUrl, dataDir, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The admin token of this data directory: made at the first start, kept (mode 0600). */
function adminToken(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const t = `lrs_${randomBytes(32).toString('base64url')}`;
  writeFileSync(file, `${t}\n`, { mode: 0o600 });
  return t;
}

/**
 * The bundle's redis-server runs through the dynamic loader and libraries it was copied with
 * (redis/lib), so it does not depend on the host's; a host redis-server on PATH is the fallback.
 */
function redisCommand(): [string, string[]] {
  const lib = join(bundleRoot, 'redis', 'lib');
  const bin = join(bundleRoot, 'redis', 'bin', 'redis-server');
  const loader = join(lib, 'ld-linux-x86-64.so.2');
  if (existsSync(bin) && existsSync(loader)) return [loader, ['--library-path', lib, bin]];
  if (existsSync(bin)) return [bin, []];
  return ['redis-server', []];
}

async function startBundledRedis(dir: string, logFile: string) {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const [cmd, pre] = redisCommand();
  const args = [...pre, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes'];
  const log = openSync(logFile, 'a');
  const child = spawn(cmd, [...args, '--save', ''], { stdio: ['ignore', log, log] });
  closeSync(log);
  if (child.pid) writeFileSync(join(dir, 'redis.pid'), `${child.pid}\n`);
  const url = `redis://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.once('error', () => {});
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = createRedis(url, { use: 'requests' });
    r.on('error', () => {});
    const ok = await r.ping().then(
      () => true,
      () => false,
    );
    r.disconnect();
    if (ok) break;
    const gone = await Promise.race([exited, new Promise((res) => setTimeout(() => res('running'), 200))]);
    if (gone !== 'running' || Date.now() > deadline)
      throw new UpError(`✗ redis-server did not start (see ${logFile}); start a Redis and set REDIS_URL.`);
  }
  return {
    url,
    port,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}

interface Supervised {
  stop(): Promise<void>;
}

/**
 * Runs `node lrsweep.mjs <command>` with `env`, its output appended to `logFile`, restarted a
 * second after it dies.
 */
function supervise(name: string, command: string, logFile: string, env: Record<string, string>): Supervised {
  let child: ChildProcess;
  let stopping = false;
  const start = () => {
    const log = openSync(logFile, 'a');
    child = spawn(process.execPath, [join(bundleRoot, 'lrsweep.mjs'), command], {
      env: { ...process.env, ...env, LRSWEEP_UP_PID: String(process.pid) },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      say(`! ${name} exited (${signal ?? `code ${code}`}); restarting it (log: ${logFile})`);
      setTimeout(() => stopping || start(), 1000).unref();
    });
  };
  start();
  return {
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      // A worker checkpoints and releases its trials on SIGTERM; past 30 s it is killed.
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await gone;
      clearTimeout(t);
    },
  };
}

async function waitForApi(url: string, logFile: string) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = spawnSync('tail', ['-n', '5', logFile], { encoding: 'utf8' }).stdout;
  throw new UpError(`✗ The API did not answer at ${url} within 60 s; the end of ${logFile}:\n${tail}`);
}

/**
 * The Postgres and Redis of an `up` that was killed (SIGKILL, a power cut of the shell) still run
 * on this data directory: stopped first (SIGTERM: Postgres's fast shutdown, Redis's append-only
 * file is flushed), so this start can take the directory over. Its API and workers stop by
 * themselves when their parent is gone.
 */
async function stopLeftovers(dataDir: string, note: (s: string) => void) {
  const pidOf = (file: string) => {
    try {
      return Number(readFileSync(file, 'utf8').split('\n')[0]);
    } catch {
      return 0;
    }
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const [what, file] of [
    ['Postgres', join(dataDir, 'postgres', 'postmaster.pid')],
    ['Redis', join(dataDir, 'redis', 'redis.pid')],
  ] as const) {
    const pid = pidOf(file);
    if (!pid || !alive(pid)) continue;
    note(`• a ${what} of an earlier start is still running on ${dataDir} (pid ${pid}): stopping it`);
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  }
}
