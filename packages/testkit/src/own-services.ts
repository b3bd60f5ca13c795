// Services of a test's own, for fault tests that stop, flush or restart them: other tests keep
// using the machine's Postgres and Redis undisturbed.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const waitUntil = async (what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** A redis-server on a port of its own, without persistence: a restart loses every key. */
export async function startOwnRedis() {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const ping = async () => {
    const r = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    r.on('error', () => {});
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      r.disconnect();
    }
  };
  const start = async () => {
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--dir', tmpdir()], {
      stdio: 'ignore',
    });
    await waitUntil(`redis on ${port}`, ping);
  };
  const stop = async () => {
    spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' });
    await waitUntil(`redis on ${port} to stop`, async () => !(await ping()));
  };
  await start();
  let pid: number | null = null;
  const pidOf = () => {
    pid ??= Number(/process_id:(\d+)/.exec(execFileSync('redis-cli', ['-p', String(port), 'info', 'server']).toString())![1]);
    return pid;
  };
  return {
    url,
    port,
    stop: async () => {
      pid = null;
      await stop();
    },
    start,
    /** SIGSTOP: the server keeps its connections but answers nothing (a frozen dependency). */
    freeze() {
      process.kill(pidOf(), 'SIGSTOP');
    },
    thaw() {
      process.kill(pidOf(), 'SIGCONT');
    },
    async restart() {
      pid = null;
      await stop();
      await start();
    },
    flushAll() {
      execFileSync('redis-cli', ['-p', String(port), 'flushall']);
    },
  };
}

const pgBin = (() => {
  const root = '/usr/lib/postgresql';
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  return join(root, version!, 'bin');
})();

/** Runs a Postgres tool as the postgres user (initdb refuses root). */
const asPostgres = (tool: string, args: string[]) => {
  const cmd = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', join(pgBin, tool), ...args]] : [join(pgBin, tool), args];
  const r = spawnSync(cmd[0] as string, cmd[1] as string[], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
};

/** A Postgres cluster of its own (initdb in a temporary directory), trust auth, on its own port. */
export async function startOwnPostgres() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lrsweep-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) spawnSync('chown', ['postgres', dir]);
  asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const ready = () => spawnSync(join(pgBin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-q']).status === 0;
  const start = async () => {
    asPostgres('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']);
    await waitUntil(`postgres on ${port}`, ready);
  };
  await start();
  return {
    port,
    url: (db: string) => `postgresql://postgres@127.0.0.1:${port}/${db}`,
    async restart() {
      asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      await start();
    },
    async destroy() {
      try {
        asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
