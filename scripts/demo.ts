// `pnpm demo`: migrates, starts the API and two workers, submits examples/mnist-schedules.json,
// shows progress, prints the ranking, and stops what it started.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDatabaseUrl, migrate } from '@lrsweep/db';
import { createRedis, defaultRedisUrl } from '@lrsweep/queue';
import { describeSchedule, type ScheduleSpec } from '@lrsweep/schedules';
import { type RunningProcess, startApi, startWorker } from './lib/launch';
import { formatTable } from './lib/table';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const databaseUrl = process.env.DATABASE_URL ?? defaultDatabaseUrl;
const redisUrl = process.env.REDIS_URL ?? defaultRedisUrl;
const specFile = resolve(root, process.argv[2] ?? 'examples/mnist-schedules.json');
const logDir = resolve(root, '.demo');
// The demo's API trusts this token as an admin token of project "default" (LRSWEEP_BOOTSTRAP_TOKEN).
const token = process.env.LRSWEEP_BOOTSTRAP_TOKEN ?? `lrs_demo_${randomBytes(24).toString('base64url')}`;
const authorization = { authorization: `Bearer ${token}` };
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

function progressLine(c: Record<string, number>, elapsedS: number): string {
  const done = c.completed! + c.failed! + c.diverged! + c.cancelled!;
  const width = 30;
  const filled = Math.round((done / Math.max(1, c.total!)) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${c.total} done · ${c.running} running · ${c.failed} failed · ${c.diverged} diverged · ${elapsedS.toFixed(0)}s`;
}

async function main() {
  say('lrsweep demo: which learning-rate schedule wins, at its best base LR, across seeds?\n');
  say(`• database ${new URL(databaseUrl).host}${new URL(databaseUrl).pathname} · redis ${new URL(redisUrl).host}`);
  await checkServices();
  say('• database migrated');
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

  const spec = JSON.parse(readFileSync(specFile, 'utf8'));
  const post = await fetch(`${api.url}/v1/sweeps`, { method: 'POST', headers: { 'content-type': 'application/json', ...authorization }, body: JSON.stringify(spec) });
  const created = (await post.json()) as { id: string; trialCount: number; configCount: number; totalSteps: number; message?: string };
  if (post.status !== 201) throw new Error(`the sweep was refused (${post.status}): ${created.message}`);
  say(`• submitted "${spec.name}": ${created.trialCount} trials (${created.configCount} configurations × seeds), ${created.totalSteps} updates each\n`);

  const t0 = Date.now();
  const tty = process.stdout.isTTY;
  let lastPrinted = -1;
  for (;;) {
    const s = (await (await fetch(`${api.url}/v1/sweeps/${created.id}`, { headers: authorization })).json()) as { status: string; counts: Record<string, number> };
    const line = progressLine(s.counts, (Date.now() - t0) / 1000);
    const done = s.counts.total! - s.counts.queued! - s.counts.running!;
    if (tty) process.stdout.write(`\r${line}`);
    else if (done !== lastPrinted) say(line);
    lastPrinted = done;
    if (s.status === 'completed' || s.status === 'cancelled') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (tty) process.stdout.write('\n');

  const results = (await (await fetch(`${api.url}/v1/sweeps/${created.id}/results`, { headers: authorization })).json()) as {
    objective: { metric: string; mode: string; aggregate: string };
    ranking: { rank: number; config: { baseLr: number; schedule: ScheduleSpec }; n: number; diverged: number; mean: number | null; ci95: [number, number] | null }[];
  };
  const o = results.objective;
  say(`\nRanking by ${o.aggregate} ${o.metric} (${o.mode === 'min' ? 'lower' : 'higher'} is better), mean over seeds with a 95% CI:\n`);
  say(
    formatTable(
      ['rank', 'schedule', 'base LR', 'seeds', `mean ${o.metric}`, '95% CI', 'diverged'],
      results.ranking.map((r) => [
        String(r.rank),
        describeSchedule(r.config.schedule),
        String(r.config.baseLr),
        String(r.n),
        r.mean === null ? '–' : r.mean.toFixed(4),
        r.ci95 ? `[${r.ci95[0].toFixed(4)}, ${r.ci95[1].toFixed(4)}]` : '–',
        String(r.diverged),
      ]),
      { alignRight: [0, 2, 3, 4, 6] },
    ),
  );
  const best = results.ranking[0];
  if (best) say(`\nBest: ${describeSchedule(best.config.schedule)} at base LR ${best.config.baseLr}.`);
  say(`Sweep ${created.id} · API ${api.url}/v1/sweeps/${created.id}/results`);
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
