// `pnpm bench:orchestration [--quick] [--fleet] [--rounds N]`: the orchestrator's own cost, against PERFORMANCE.md's targets,
// through the real API and one worker process (Postgres and Redis of this machine, a database and a
// queue prefix of its own):
// - start latency: single-trial sweeps submitted one at a time to an idle worker; from the trial's
//   creation (queued_at) to its training loop's start (training_started_at, the worker's clock);
//   target: within 200 ms;
// - orchestrator's own time in trials of ~10 s: everything outside the training loop (queue,
//   claim, set-up, final writes: wall − trainMs, from the trial's timestamps) plus what the loop
//   spent on the worker's behalf (metric hand-off, checkpoint snapshots: hostMs, timed by the
//   trainer), as a share of the trial's wall time (queued → finished); target: under 2%.
//   Each trial also runs bare in this process right before (same config, data and backend, no
//   orchestrator), for the loop's speed in the worker beside it.
// - fleet: 500 tiny trials (20 updates each), two at a time (one worker, WORKER_SLOTS=2): slot time
//   per trial not spent in the training loop — (2 × makespan − Σ trainMs) / 500: claim, set-up,
//   checkpoint bookkeeping, metric writes, completion, ranking upkeep — with Postgres
//   transactions and row writes per trial; then Ray Tune and Optuna (on this Postgres) on the
//   same trials in the same run (scripts/bench_orchestrators.py, from .venv-bench, made here
//   with pip on first use), and the ratios; `--rounds N` (default 5, 1 with --quick) alternates the
//   three N times and prints medians with their spread. Target (PERFORMANCE.md): ≤ 10 ms per trial.
//   `--fleet` runs this phase alone.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDatabaseUrl, migrate } from '@lrsweep/db';
import { createClient, type LrsweepClient } from '@lrsweep/client';
import { createRedis, defaultRedisUrl } from '@lrsweep/queue';
import { type SweepSpecInput, sweepSpecSchema } from '@lrsweep/contract';
import { type BuiltinTrialConfig, expandSweep, planTrials } from '@lrsweep/sweep';
import { loadDataset, selectBackend, train } from '@lrsweep/trainer';
import pg from 'pg';
import { trainConfigOf } from '../apps/worker/src/train-config';
import { type RunningProcess, startApi, startWorker } from '@lrsweep/testkit';
import { fleetPhase, printFleet } from './lib/fleet-bench';
import { median, percentile } from './lib/stats';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');
const fleetOnly = process.argv.includes('--fleet');
const FLEET_TRIALS = quick ? 100 : 500;
const LATENCY_TRIALS = quick ? 5 : 15;
const OVERHEAD_ROUNDS = quick ? 1 : 5;
/** Fleet rounds, each lrsweep then Ray Tune then Optuna: medians and spread over ≥ 5 alternated runs (PERFORMANCE.md; `--rounds N`). */
const roundsArg = process.argv.indexOf('--rounds');
const FLEET_ROUNDS = roundsArg > 0 ? Math.max(1, Number(process.argv[roundsArg + 1]) || 1) : quick ? 1 : 5;

const base = new URL(process.env.DATABASE_URL ?? defaultDatabaseUrl);
base.pathname = '/lrsweep_bench_orchestration';
const databaseUrl = base.toString();
const redisUrl = process.env.REDIS_URL ?? defaultRedisUrl;
const prefix = `lrsweep-bench-${randomBytes(4).toString('hex')}`;
const token = `lrs_bench_${randomBytes(24).toString('base64url')}`;
const started: RunningProcess[] = [];
const log = (s: string) => process.stdout.write(`${s}\n`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bench = { root, databaseUrl, trials: FLEET_TRIALS, rounds: FLEET_ROUNDS, log, started };

/** A tiny trial: the start latency is what is measured, not training. */
const tinySpec = (seed: number): SweepSpecInput => ({
  name: `latency-${seed}`,
  dataset: { name: 'synthetic', trainSize: 256, testSize: 64 },
  model: { kind: 'mlp', hidden: [16] },
  optimizer: { kind: 'adam' },
  training: { epochs: 1, batchSize: 64, evalEvery: 2 },
  grid: { baseLr: [0.01], schedule: [{ kind: 'cosine' }], seeds: [seed] },
});

/** About ten seconds of training on this machine class (quick: about four). */
const longSpec = (seed: number): SweepSpecInput => ({
  name: `overhead-${seed}`,
  dataset: { name: 'mnist', trainSize: 8000, testSize: 2000 },
  model: { kind: 'mlp', hidden: [256] },
  optimizer: { kind: 'adam' },
  training: { epochs: quick ? 8 : 20, batchSize: 64, evalEvery: 100 },
  grid: { baseLr: [0.001], schedule: [{ kind: 'cosine', warmup: { steps: 100 } }], seeds: [seed] },
});

async function freshDatabase() {
  const admin = new pg.Client({ connectionString: databaseUrl.replace(/\/lrsweep_bench_orchestration$/, '/postgres') });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS lrsweep_bench_orchestration WITH (FORCE)');
  await admin.end();
  await migrate({ url: databaseUrl });
}

/** Submits a one-trial sweep, waits for it, and returns the trial as the API shows it. */
async function runOne(client: LrsweepClient, spec: SweepSpecInput) {
  const created = await client.submitSweep(spec);
  // Polling is light (the latencies come from the trial's own timestamps, not from polling).
  const sweep = await client.follow(created.id, () => {}, 500);
  if (sweep.counts.completed !== 1)
    throw new Error(`sweep ${created.id} did not complete: ${JSON.stringify(sweep.counts)}`);
  const [trial] = (await client.listTrials(created.id)).trials;
  return trial!;
}

/** The same training the worker does for the sweep's (only) trial, here, with no orchestrator. */
function bareMs(spec: SweepSpecInput): number {
  const expanded = expandSweep(sweepSpecSchema.parse(spec), { maxTrials: 1 });
  if (!expanded.ok) throw new Error(JSON.stringify(expanded.issues));
  const c = planTrials(expanded.plan, 'bare')[0]!.config as BuiltinTrialConfig;
  const data = loadDataset(c.dataset);
  const t0 = performance.now();
  train(trainConfigOf(c), data);
  return performance.now() - t0;
}

async function main() {
  await freshDatabase();
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    LRSWEEP_BOOTSTRAP_TOKEN: token,
    WORKER_SLOTS: '1',
    LRSWEEP_BACKEND: 'wasm',
    LOG_LEVEL: 'info',
  };
  const api = await startApi(env);
  started.push(api);
  const worker = await startWorker({ ...env, WORKER_ID: 'bench-worker' });
  started.push(worker);
  const client = createClient({ baseUrl: api.url, token });
  await selectBackend('wasm');
  if (fleetOnly) {
    await worker.stop();
    const fleet = await fleetPhase(bench, env, client);
    printFleet(bench, fleet);
    log(JSON.stringify({ bench: 'orchestration', fleet }));
    return;
  }

  // Warm-up: the worker's training thread, its dataset cache (both specs' datasets) and the API.
  await runOne(client, tinySpec(1000));
  await runOne(client, { ...longSpec(1000), training: { epochs: 1, batchSize: 64, evalEvery: 100 } });
  bareMs({ ...longSpec(1000), training: { epochs: 1, batchSize: 64, evalEvery: 100 } });

  log(`• start latency: ${LATENCY_TRIALS} one-trial sweeps, one at a time, each to an idle worker`);
  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_TRIALS; i++) {
    await sleep(300); // the worker is idle, blocked on the queue
    const t = await runOne(client, tinySpec(i));
    latencies.push(Date.parse(t.trainingStartedAt!) - Date.parse(t.queuedAt));
  }

  log(`• overhead: ${OVERHEAD_ROUNDS} round(s) of a bare run here, then the same training as a sweep`);
  const rounds: { bare: number; wall: number; trainMs: number; hostMs: number }[] = [];
  for (let r = 0; r < OVERHEAD_ROUNDS; r++) {
    const spec = longSpec(r);
    const bare = bareMs(spec);
    const t = await runOne(client, spec);
    const wall = Date.parse(t.finishedAt!) - Date.parse(t.queuedAt);
    const finished = await worker.waitFor((l) => l.msg === 'trial finished' && l.trialId === t.id);
    rounds.push({ bare, wall, trainMs: t.trainMs!, hostMs: Number(finished.hostMs) });
    log(
      `  round ${r + 1}: trial ${(wall / 1000).toFixed(2)} s (training loop ${(t.trainMs! / 1000).toFixed(2)} s, of it for the worker ${Number(finished.hostMs)} ms) · bare ${(bare / 1000).toFixed(2)} s`,
    );
  }

  const own = rounds.map((x) => (x.wall - x.trainMs + x.hostMs) / x.wall);
  const outside = rounds.map((x) => (x.wall - x.trainMs) / x.wall);
  const inLoop = rounds.map((x) => x.hostMs / x.wall);
  const slowdown = rounds.map((x) => x.trainMs / x.bare);
  const p95 = percentile(latencies, 95);
  log('');
  log('| measure | value | target |');
  log('|---|---|---|');
  log(
    `| start latency, queued → training (p50 / p95 / max over ${latencies.length}) | ${median(latencies).toFixed(0)} / ${p95.toFixed(0)} / ${Math.max(...latencies).toFixed(0)} ms | p95 ≤ 200 ms |`,
  );
  log(
    `| orchestrator's own time in a ${(median(rounds.map((x) => x.wall)) / 1000).toFixed(1)} s trial (median of ${rounds.length}) | ${(100 * median(own)).toFixed(2)}% | < 2% |`,
  );
  log(
    `| … outside the training loop (queue, claim, set-up, final writes) | ${(100 * median(outside)).toFixed(2)}% | |`,
  );
  log(`| … inside it (metric hand-off, checkpoint snapshots) | ${(100 * median(inLoop)).toFixed(2)}% | |`);
  log(
    `| training loop in the worker ÷ the same training bare in this process (identical runs differ by up to ~15% here) | ${median(slowdown).toFixed(3)}× | |`,
  );
  await worker.stop();
  const fleet = await fleetPhase(bench, env, client);
  printFleet(bench, fleet);
  log(
    JSON.stringify({
      bench: 'orchestration',
      fleet,
      startLatencyMs: { p50: median(latencies), p95, max: Math.max(...latencies) },
      trialSeconds: median(rounds.map((x) => x.wall)) / 1000,
      ownShare: median(own),
      outsideLoopShare: median(outside),
      inLoopShare: median(inLoop),
      loopVsBare: median(slowdown),
      rounds,
    }),
  );
}

async function stopAll() {
  await Promise.all(started.map((p) => p.stop().catch(() => null)));
  const redis = createRedis(redisUrl);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}

main()
  .then(async () => {
    await stopAll();
    process.exit(0);
  })
  .catch(async (err: Error) => {
    log(`✗ ${err.message}`);
    await stopAll();
    process.exit(1);
  });
