// `pnpm demo`: migrates, starts the API and two workers, submits examples/mnist-schedules.json,
// shows progress, prints the ranking, and stops what it started.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDatabaseUrl, migrate } from '@lrsweep/db';
import { createRedis, defaultRedisUrl } from '@lrsweep/queue';
import { progressLine, rankingTable } from '@lrsweep/cli';
import { createClient } from '@lrsweep/client';
import { describeSchedule } from '@lrsweep/schedules';
import { type RunningProcess, startApi, startWorker } from '@lrsweep/testkit';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const databaseUrl = process.env.DATABASE_URL ?? defaultDatabaseUrl;
const redisUrl = process.env.REDIS_URL ?? defaultRedisUrl;
const specFile = resolve(root, process.argv[2] ?? 'examples/mnist-schedules.json');
const logDir = resolve(root, '.demo');
// The demo's API trusts this token as an admin token of project "default" (LRSWEEP_BOOTSTRAP_TOKEN).
const token = process.env.LRSWEEP_BOOTSTRAP_TOKEN ?? `lrs_demo_${randomBytes(24).toString('base64url')}`;
const started: RunningProcess[] = [];
const say = (s: string) => process.stdout.write(`${s}\n`);

async function checkServices() {
  try {
    await migrate({ url: databaseUrl });
  } catch (err) {
    const e = err as { code?: string; message: string };
    say(`\n✗ PostgreSQL is not reachable at ${new URL(databaseUrl).host} (${e.code ?? e.message}).`);
    say('  Start it (Debian: pg_ctlcluster <version> main start), or set DATABASE_URL=postgresql://user@host:port/db.');
    process.exit(2);
  }
  const redis = createRedis(redisUrl);
  redis.on('error', () => {});
  const ok = await Promise.race([redis.ping().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
  redis.disconnect();
  if (!ok) {
    say(`\n✗ Redis is not reachable at ${new URL(redisUrl).host}.`);
    say('  Start it (redis-server --daemonize yes), or set REDIS_URL=redis://host:port.');
    process.exit(2);
  }
}

async function stopAll() {
  await Promise.all(started.map((p) => p.stop().catch(() => null)));
}

async function main() {
  say('lrsweep demo: which learning-rate schedule wins, at its best base LR, across seeds?\n');
  say(`• database ${new URL(databaseUrl).host}${new URL(databaseUrl).pathname} · redis ${new URL(redisUrl).host}`);
  await checkServices();
  say('• database migrated');
  // The API serves the dashboard at / once it is built (about two seconds).
  const viteBin = join(dirname(createRequire(join(root, 'apps/dashboard/package.json')).resolve('vite/package.json')), 'bin/vite.js');
  execFileSync(process.execPath, [viteBin, 'build', '--logLevel', 'error'], { cwd: join(root, 'apps/dashboard') });
  say('• dashboard built');
  mkdirSync(logDir, { recursive: true });
  const env = { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, QUEUE_PREFIX: process.env.QUEUE_PREFIX ?? 'lrsweep' };
  const api = await startApi({ ...env, LRSWEEP_BOOTSTRAP_TOKEN: token }, { logFile: resolve(logDir, 'api.log') });
  started.push(api);
  say(`• API listening at ${api.url} (docs: ${api.url}/docs)`);
  const workers = await Promise.all(
    [1, 2].map((i) => startWorker({ ...env, WORKER_ID: `demo-worker-${i}` }, { logFile: resolve(logDir, `worker-${i}.log`) })),
  );
  started.push(...workers);
  say(`• 2 workers started (logs in ${logDir})`);

  const client = createClient({ baseUrl: api.url, token });
  const spec = JSON.parse(readFileSync(specFile, 'utf8'));
  const created = await client.submitSweep(spec);
  say(`• submitted "${created.name}": ${created.trialCount} trials (${created.configCount} configurations × seeds), ${created.totalSteps} updates each\n`);

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
  say(`\nRanking by ${o.aggregate} ${o.metric} (${o.mode === 'min' ? 'lower' : 'higher'} is better), mean over seeds with a 95% CI:\n`);
  say(rankingTable(results.ranking, o.metric));
  const analysis = await client.schedules(created.id);
  say(`\n${analysis.verdict}`);
  const best = results.ranking[0];
  if (best) say(`Best configuration: ${describeSchedule(best.config.schedule)} at base LR ${best.config.baseLr}.`);
  say(`Sweep ${created.id} · dashboard ${api.url}/ · API ${api.url}/v1/sweeps/${created.id}/results`);
}

main()
  .then(async () => {
    await stopAll();
    process.exit(0);
  })
  .catch(async (err: Error) => {
    say(`\n✗ demo failed: ${err.message}`);
    await stopAll();
    process.exit(1);
  });
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => void stopAll().then(() => process.exit(130)));
}
