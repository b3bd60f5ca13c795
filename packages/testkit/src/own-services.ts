// Services of a test's own, for fault tests that stop, flush or restart them: other tests keep
// using the machine's Postgres and Redis undisturbed.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port';

export { freePort };

const waitUntil = async (what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/**
 * A redis-server on a port of its own, without persistence: a restart loses every key. `bind`
 * adds addresses to listen on besides loopback (the host side of a test's veth links).
 */
export async function startOwnRedis(opts: { bind?: string[] } = {}) {
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
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        ['127.0.0.1', ...(opts.bind ?? [])].join(' '),
        ...(opts.bind?.length ? ['--protected-mode', 'no'] : []),
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'yes',
        '--dir',
        tmpdir(),
      ],
      {
        stdio: 'ignore',
      },
    );
    await waitUntil(`redis on ${port}`, ping);
  };
  const stop = async () => {
    spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' });
    await waitUntil(`redis on ${port} to stop`, async () => !(await ping()));
  };
  await start();
  let pid: number | null = null;
  const pidOf = () => {
    pid ??= Number(
      /process_id:(\d+)/.exec(execFileSync('redis-cli', ['-p', String(port), 'info', 'server']).toString())![1],
    );
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
  const cmd =
    process.getuid?.() === 0
      ? ['runuser', ['-u', 'postgres', '--', join(pgBin, tool), ...args]]
      : [join(pgBin, tool), args];
  const r = spawnSync(cmd[0] as string, cmd[1] as string[], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
};

/**
 * A Postgres cluster of its own (initdb in a temporary directory), trust auth, on its own port.
 * `listen` adds addresses besides loopback, `trustFrom` a network (CIDR) whose clients it trusts.
 */
export async function startOwnPostgres(opts: { listen?: string[]; trustFrom?: string } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lrsweep-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) spawnSync('chown', ['postgres', dir]);
  asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  if (opts.trustFrom) appendFileSync(join(data, 'pg_hba.conf'), `host all all ${opts.trustFrom} trust\n`);
  const listen = ['127.0.0.1', ...(opts.listen ?? [])].join(',');
  const serverOpts = `-p ${port} -k ${dir} -c listen_addresses=${listen} -c fsync=off -c max_connections=100`;
  const ready = () => spawnSync(join(pgBin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-q']).status === 0;
  const start = async () => {
    asPostgres('pg_ctl', ['-D', data, '-o', serverOpts, '-l', join(dir, 'log'), '-w', 'start']);
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

/**
 * A real Redis Cluster of its own on loopback: three masters, one replica each (redis-server
 * --cluster-enabled, `redis-cli --cluster create`), nothing persisted. `failOver(key)` kills the
 * master that serves `key`'s slot with SIGKILL and waits until its replica has taken the slot over.
 */
export async function startOwnRedisCluster() {
  const dir = mkdtempSync(join(tmpdir(), 'lrsweep-redis-cluster-'));
  const ports: number[] = [];
  while (ports.length < 6) {
    const p = await freePort();
    // The cluster bus listens on port + 10000: both must be free and below 65 536.
    if (p < 55_000 && !ports.includes(p)) ports.push(p);
  }
  const cli = (port: number, ...args: string[]) =>
    execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).trim();
  for (const port of ports) {
    const r = spawnSync(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '1500',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'yes',
        '--dir',
        dir,
        '--logfile',
        join(dir, `${port}.log`),
        '--pidfile',
        join(dir, `${port}.pid`),
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`redis-server on ${port}: ${r.stderr}`);
  }
  const alive = new Set(ports);
  await waitUntil('the cluster nodes', () =>
    ports.every(
      (p) => spawnSync('redis-cli', ['-p', String(p), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG',
    ),
  );
  execFileSync(
    'redis-cli',
    ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'],
    { stdio: 'ignore' },
  );
  const clusterOk = (p: number) => /cluster_state:ok/.test(cli(p, 'cluster', 'info'));
  await waitUntil('cluster_state ok', () => ports.every(clusterOk), 30_000);

  /** `cluster nodes` as seen from a live node: id, port, role, master id, slots. */
  const nodes = () =>
    cli([...alive][0]!, 'cluster', 'nodes')
      .split('\n')
      .map((l) => l.split(' '))
      .map((f) => ({
        id: f[0]!,
        port: Number(f[1]!.split(':')[1]!.split('@')[0]),
        flags: f[2]!,
        master: f[3]!,
        slots: f.slice(8),
      }));
  const ownerOf = (slot: number) =>
    nodes().find(
      (n) =>
        n.flags.includes('master') &&
        !n.flags.includes('fail') &&
        n.slots.some((r) => {
          const [a, b] = r.split('-').map(Number);
          return slot >= a! && slot <= (b ?? a)!;
        }),
    );

  return {
    url: `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    ports,
    // Any live node computes a key's slot (the first port may be the master failOver killed).
    slotOf: (key: string) => Number(cli([...alive][0]!, 'cluster', 'keyslot', key)),
    /** The port of the master serving `key`'s slot now. */
    masterOf(key: string) {
      const owner = ownerOf(this.slotOf(key));
      if (!owner) throw new Error(`no master serves ${key}`);
      return owner.port;
    },
    cli,
    /** SIGKILLs the master of `key`'s slot; resolves once a replica serves the slot and the cluster is ok. */
    async failOver(key: string) {
      const slot = this.slotOf(key);
      const old = this.masterOf(key);
      const pid = Number(readFileSync(join(dir, `${old}.pid`), 'utf8'));
      process.kill(pid, 'SIGKILL');
      alive.delete(old);
      await waitUntil(
        `a replica to take slot ${slot} over`,
        () => {
          const owner = ownerOf(slot);
          return owner !== undefined && owner.port !== old && [...alive].every(clusterOk);
        },
        30_000,
      );
      return { killed: old, promoted: this.masterOf(key) };
    },
    async destroy() {
      for (const p of ports) spawnSync('redis-cli', ['-p', String(p), 'shutdown', 'nosave'], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether this process may make network namespaces (root, `ip netns`); else why not. */
export function netnsSupport(): true | string {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const name = `lrsprobe${process.pid % 100000}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (add.status !== 0) return `ip netns add failed: ${add.stderr || add.error?.message}`;
  spawnSync('ip', ['netns', 'del', name]);
  return true;
}

/**
 * A "host" of its own: a network namespace joined to this one by a veth pair,
 * `10.<net>.<i>.1` on this side (where the test's own services listen) and `10.<net>.<i>.2`
 * inside. `cut()` takes this side's end down, a partition: packets are dropped, connections
 * hang without a reset, as when a node drops off the network; `heal()` brings it back.
 */
export function createNetnsHost(tag: string, net: number, i: number) {
  const ns = `lrs-${tag}-${i}`;
  const outer = `lrs${tag}${i}h`.slice(0, 15);
  const inner = `lrs${tag}${i}n`.slice(0, 15);
  const hostIp = `10.${net}.${i}.1`;
  const innerIp = `10.${net}.${i}.2`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  ip('netns', 'add', ns);
  ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
  ip('link', 'set', inner, 'netns', ns);
  ip('addr', 'add', `${hostIp}/24`, 'dev', outer);
  ip('link', 'set', outer, 'up');
  ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${innerIp}/24`, 'dev', inner);
  ip('netns', 'exec', ns, 'ip', 'link', 'set', inner, 'up');
  ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  return {
    ns,
    hostIp,
    innerIp,
    cut: () => ip('link', 'set', outer, 'down'),
    heal: () => ip('link', 'set', outer, 'up'),
    destroy() {
      spawnSync('ip', ['link', 'del', outer]);
      spawnSync('ip', ['netns', 'del', ns]);
    },
  };
}
