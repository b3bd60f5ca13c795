// `pnpm bench:hf`: what lrsweep's Hugging Face integration costs a Trainer run (#27: target under
// 2%, printed, not asserted). A tiny GPT-2 trains T updates as a plain Trainer run and as an
// lrsweep trial (the integration, every update reported to a real API over HTTP, markers at each
// checkpoint), in alternated pairs in one Python process; prints the median of the per-pair
// ratios with its spread. Needs the Python tests' venv (.venv-torch: torch, transformers,
// accelerate; `node scripts/bootstrap.mjs --tests` makes it) or LRSWEEP_TORCH_PYTHON.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createClient } from '@lrsweep/client';
import { defaultDatabaseUrl, migrate } from '@lrsweep/db';
import { defaultRedisUrl } from '@lrsweep/queue';
import { type RunningProcess, startAgentProcess, startApi } from '@lrsweep/testkit';
import pg from 'pg';
import { median, percentile } from './lib/stats';

const quick = process.argv.includes('--quick');
const PAIRS = quick ? 3 : 7;
const STEPS = quick ? 100 : 300;
const EVAL_EVERY = 50;
const root = resolve(import.meta.dirname, '..');
const python = process.env.LRSWEEP_TORCH_PYTHON ?? join(root, '.venv-torch/bin/python');
const base = new URL(process.env.DATABASE_URL ?? defaultDatabaseUrl);
base.pathname = '/lrsweep_bench_hf';
const databaseUrl = base.toString();
const token = `lrs_bench_${randomBytes(24).toString('base64url')}`;
const started: RunningProcess[] = [];
const log = (s: string) => process.stdout.write(`${s}\n`);

async function main() {
  if (!existsSync(python))
    throw new Error(`no Python with transformers at ${python}: node scripts/bootstrap.mjs --tests makes one`);
  const admin = new pg.Client({ connectionString: databaseUrl.replace(/\/lrsweep_bench_hf$/, '/postgres') });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS lrsweep_bench_hf WITH (FORCE)');
  await admin.end();
  await migrate({ url: databaseUrl });
  const api = await startApi({
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.REDIS_URL ?? defaultRedisUrl,
    QUEUE_PREFIX: `lrsweep-bench-hf-${randomBytes(4).toString('hex')}`,
    LRSWEEP_BOOTSTRAP_TOKEN: token,
    // (startApi waits for the API's info-level "listening" line.)
    LOG_LEVEL: 'info',
  });
  started.push(api);
  const client = createClient({ baseUrl: api.url, token });
  const agentToken = (
    await client.createToken({ projectId: 'default', name: 'bench-hf', role: 'agent', pools: ['bench-hf'] })
  ).token;
  await client.submitSweep({
    name: 'bench-hf',
    runner: { kind: 'external', pool: 'bench-hf', config: { width: 32 } },
    training: { totalSteps: STEPS, evalEvery: EVAL_EVERY },
    grid: { baseLr: [0.003], schedule: [{ kind: 'cosine' }], seeds: PAIRS },
  } as never);
  log(`• ${PAIRS} alternated pairs of ${STEPS} updates (tiny GPT-2, 1 thread), plain Trainer vs lrsweep trial`);
  const runner = startAgentProcess(python, ['scripts/lib/bench_hf_callback.py'], {
    LRSWEEP_API_URL: api.url,
    LRSWEEP_TOKEN: agentToken,
    BENCH_PAIRS: String(PAIRS),
    BENCH_STEPS: String(STEPS),
    BENCH_EVAL_EVERY: String(EVAL_EVERY),
  });
  const code = await runner.exited;
  const runs = runner.lines
    .filter((l) => l.startsWith('{"pair"'))
    .map((l) => JSON.parse(l) as { pair: number; mode: 'plain' | 'lrsweep'; seconds: number });
  if (code !== 0 || runs.length !== 2 * PAIRS)
    throw new Error(`the runs failed:\n${runner.lines.slice(-30).join('\n')}`);
  const ratios = Array.from({ length: PAIRS }, (_, p) => {
    const of = (m: string) => runs.find((r) => r.pair === p && r.mode === m)!.seconds;
    return of('lrsweep') / of('plain');
  });
  for (const [p, r] of ratios.entries()) log(`  pair ${p + 1}: lrsweep / plain = ${r.toFixed(4)}`);
  const pct = (x: number) => `${((x - 1) * 100).toFixed(2)}%`;
  const plainRuns = runs.filter((r) => r.mode === 'plain').map((r) => r.seconds);
  // The baseline's own spread says how quiet the machine was (PERFORMANCE.md: quote runs ≤ 10%).
  const spread = (percentile(plainRuns, 75) - percentile(plainRuns, 25)) / median(plainRuns);
  log(
    `plain Trainer runs: median ${median(plainRuns).toFixed(2)} s, IQR ${(100 * spread).toFixed(1)}% of it; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  log(
    `overhead of the integration: median ${pct(median(ratios))} (IQR ${pct(percentile(ratios, 25))} … ${pct(percentile(ratios, 75))}; target < 2%)`,
  );
  log(
    JSON.stringify({
      bench: 'hf-callback',
      pairs: PAIRS,
      steps: STEPS,
      medianRatio: median(ratios),
      ratios,
      plainSeconds: median(plainRuns),
      plainSpread: spread,
      loadAverage: loadavg(),
    }),
  );
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await Promise.all(started.map((p) => p.stop()));
    process.exit();
  });
