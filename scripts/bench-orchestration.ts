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
//   with pip on first use), and the ratios; `--rounds N` (default 3, 1 with --quick) alternates the
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
import { median, percentile } from './lib/stats';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');
const fleetOnly = process.argv.includes('--fleet');
const FLEET_TRIALS = quick ? 100 : 500;
const LATENCY_TRIALS = quick ? 5 : 15;
const OVERHEAD_ROUNDS = quick ? 1 : 3;
/** Fleet rounds, each lrsweep then Ray Tune then Optuna: medians and spread over alternated runs (`--rounds N`). */
const roundsArg = process.argv.indexOf('--rounds');
const FLEET_ROUNDS = roundsArg > 0 ? Math.max(1, Number(process.argv[roundsArg + 1]) || 1) : quick ? 1 : 3;

const base = new URL(process.env.DATABASE_URL ?? defaultDatabaseUrl);
base.pathname = '/lrsweep_bench_orchestration';
const databaseUrl = base.toString();
const redisUrl = process.env.REDIS_URL ?? defaultRedisUrl;
const prefix = `lrsweep-bench-${randomBytes(4).toString('hex')}`;
const token = `lrs_bench_${randomBytes(24).toString('base64url')}`;
const started: RunningProcess[] = [];
const log = (s: string) => process.stdout.write(`${s}\n`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** 500 tiny trials: 50 base LRs × 10 seeds, 20 updates each, an evaluation every 10. */
const fleetSpec = (n: number): SweepSpecInput => ({
  name: 'fleet',
  dataset: { name: 'synthetic', trainSize: 640, testSize: 64 },
  model: { kind: 'mlp', hidden: [16] },
  optimizer: { kind: 'sgd' },
  training: { epochs: 1, batchSize: 32, evalEvery: 10 },
  grid: {
    baseLr: Array.from({ length: n / 10 }, (_, i) =>
      Number((1e-4 * 1000 ** (i / Math.max(1, n / 10 - 1))).toPrecision(4)),
    ),
    schedule: [{ kind: 'constant' }],
    seeds: 10,
  },
});

const venv = join(root, '.venv-bench');
/** .venv-bench with Ray Tune and Optuna (pip serves both here); null, with why, when it cannot be made. */
function benchPython(): { py: string } | { why: string } {
  const py = join(venv, 'bin/python');
  const has = () => spawnSync(py, ['-c', 'import ray, optuna, psycopg2'], { stdio: 'ignore' }).status === 0;
  if (existsSync(py) && has()) return { py };
  log('• making .venv-bench with Ray Tune and Optuna (first run only)');
  if (!existsSync(py) && spawnSync('python3.11', ['-m', 'venv', venv], { stdio: 'inherit' }).status !== 0)
    return { why: 'python3.11 -m venv failed' };
  const pip = spawnSync(
    join(venv, 'bin/pip'),
    [
      'install',
      '-q',
      '--retries',
      '0',
      '--timeout',
      '10',
      'ray[tune]==2.58.0',
      'optuna==5.0.0',
      'psycopg2-binary',
      'numpy',
    ],
    { stdio: 'inherit' },
  );
  return pip.status === 0 && has() ? { py } : { why: 'pip could not install ray[tune], optuna and psycopg2-binary' };
}

async function pgCounters() {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  const { rows } = await c.query<{ xact: string; writes: string }>(
    'SELECT xact_commit::text AS xact, (tup_inserted + tup_updated + tup_deleted)::text AS writes FROM pg_stat_database WHERE datname = current_database()',
  );
  await c.end();
  return { xact: Number(rows[0]!.xact), writes: Number(rows[0]!.writes) };
}

/** One lrsweep fleet run: a worker with two slots trains FLEET_TRIALS tiny trials. */
async function lrsweepFleet(env: Record<string, string>, client: LrsweepClient) {
  const worker = await startWorker({ ...env, WORKER_ID: 'bench-fleet', WORKER_SLOTS: '2', WORKER_HEALTH_PORT: '0' });
  started.push(worker);
  // The engine's own count of its transactions, from the worker's /metrics.
  const health = worker.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('worker health at'));
  const metricsUrl = String(health?.msg ?? '')
    .replace('worker health at ', '')
    .replace('/healthz', '/metrics');
  const engineTx = async () =>
    Number(/^lrsweep_engine_transactions_total (\d+)/m.exec(await (await fetch(metricsUrl)).text())?.[1] ?? Number.NaN);
  // Warm-up: both slots' threads and the dataset.
  await client.follow(
    (await client.submitSweep({ ...fleetSpec(10), name: 'fleet-warmup', grid: { ...fleetSpec(10).grid, seeds: 4 } }))
      .id,
    () => {},
    200,
  );
  await sleep(1000); // pg_stat counters are flushed about every second
  const before = await pgCounters();
  const engineBefore = await engineTx();
  const created = await client.submitSweep(fleetSpec(FLEET_TRIALS));
  const done = await client.follow(created.id, () => {}, 500);
  if (done.counts.completed !== FLEET_TRIALS)
    throw new Error(`fleet sweep did not complete: ${JSON.stringify(done.counts)}`);
  await sleep(1500);
  const after = await pgCounters();
  const engineAfter = await engineTx();
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  const { rows } = await c.query<{ first: Date; last: Date; train_ms: number }>(
    'SELECT min(started_at) AS first, max(finished_at) AS last, sum(train_ms)::float8 AS train_ms FROM trials WHERE sweep_id = $1',
    [created.id],
  );
  await c.end();
  await worker.stop();
  const makespanMs = rows[0]!.last.getTime() - rows[0]!.first.getTime();
  const lrsweep = {
    framework: 'lrsweep',
    trials: FLEET_TRIALS,
    concurrency: 2,
    makespanS: makespanMs / 1000,
    trainS: rows[0]!.train_ms / 1000,
    trialsPerS: FLEET_TRIALS / (makespanMs / 1000),
    slotMsPerTrialNotTraining: (2 * makespanMs - rows[0]!.train_ms) / FLEET_TRIALS,
    // The engine's own count (the worker's lrsweep_engine_transactions_total): target ≤ 2.
    engineTransactionsPerTrial: (engineAfter - engineBefore) / FLEET_TRIALS,
    // The whole database's, the API's reads included (the ranking, the follow polls).
    pgTransactionsPerTrial: (after.xact - before.xact) / FLEET_TRIALS,
    rowWritesPerTrial: (after.writes - before.writes) / FLEET_TRIALS,
  };
  log(
    `  lrsweep: ${lrsweep.trialsPerS.toFixed(1)} trials/s, ${lrsweep.slotMsPerTrialNotTraining.toFixed(1)} ms of slot time per trial not training, ${lrsweep.engineTransactionsPerTrial.toFixed(2)} engine transactions (target ≤ 2; Postgres, API reads included: ${lrsweep.pgTransactionsPerTrial.toFixed(1)}) and ${lrsweep.rowWritesPerTrial.toFixed(1)} row writes per trial`,
  );
  // Where it went, from the worker's own account of each attempt ('trial finished', phasesMs):
  // on the slot, the queue's hand-off, the claim and the preparation; beside the slot's next
  // trial, the last metric rows and the trial's end. (The first two trials hand off from warm-up.)
  const finished = worker.lines.filter((l) => l.msg === 'trial finished' && l.sweepId === created.id);
  const phase = (k: string) =>
    median(
      finished
        .map((l) => (l.phasesMs as Record<string, number> | undefined)?.[k])
        .filter((v): v is number => v !== undefined),
    );
  const breakdown = Object.fromEntries(['handOff', 'claim', 'prepare', 'close', 'finish'].map((k) => [k, phase(k)]));
  log(
    `  per trial (medians, ms): on the slot: queue hand-off ${breakdown.handOff!.toFixed(1)} · claim ${breakdown.claim!.toFixed(1)} · prepare ${breakdown.prepare!.toFixed(1)}; beside the next trial: last metric rows ${breakdown.close!.toFixed(1)} · end recorded ${breakdown.finish!.toFixed(1)}`,
  );
  // Every phase the worker timed (see apps/worker/src/phases.ts), for where the rest went.
  const every = [...new Set(finished.flatMap((l) => Object.keys((l.phasesMs as object | undefined) ?? {})))];
  const outsideLoop = median(
    finished
      .map((l) => ((l.phasesMs as Record<string, number> | undefined)?.train ?? Number.NaN) - Number(l.trainMs))
      .filter((v) => Number.isFinite(v)),
  );
  log(
    `  every phase (medians, ms): ${every.map((k) => `${k} ${phase(k).toFixed(1)}`).join(' · ')}; of train, outside the training loop: ${outsideLoop.toFixed(1)}`,
  );

  return { lrsweep, breakdown };
}

interface OtherRun {
  framework: string;
  version: string;
  trialsPerS: number;
  slotMsPerTrialNotTraining: number;
}

/** Ray Tune and Optuna on the same trials (scripts/bench_orchestrators.py), or why not. */
function otherFleets(): OtherRun[] {
  const others: OtherRun[] = [];
  const python = benchPython();
  if ('why' in python) log(`  Ray Tune and Optuna not run: ${python.why}`);
  else {
    const optunaDb = new URL(databaseUrl);
    optunaDb.pathname = '/lrsweep_bench_optuna';
    for (const framework of ['ray', 'optuna']) {
      const r = spawnSync(
        python.py,
        [
          join(root, 'scripts/bench_orchestrators.py'),
          '--framework',
          framework,
          '--trials',
          String(FLEET_TRIALS),
          '--pg',
          optunaDb.toString().replace(/^postgresql:/, 'postgresql+psycopg2:'),
        ],
        {
          encoding: 'utf8',
          maxBuffer: 64 * 2 ** 20,
          env: { ...process.env, RAY_DEDUP_LOGS: '0', PYTHONWARNINGS: 'ignore' },
        },
      );
      const line = r.stdout.split('\n').find((l) => l.startsWith('{"framework"'));
      if (!line) {
        log(`  ${framework}: did not run (${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')})`);
        continue;
      }
      const x = JSON.parse(line) as OtherRun;
      others.push(x);
      log(
        `  ${x.version}: ${x.trialsPerS.toFixed(1)} trials/s, ${x.slotMsPerTrialNotTraining.toFixed(1)} ms of slot time per trial not training`,
      );
    }
  }
  return others;
}

/** A median with its spread (min–max and the interquartile range), as the tables print it. */
function spread(xs: number[]) {
  return {
    median: median(xs),
    min: Math.min(...xs),
    max: Math.max(...xs),
    p25: quantile(xs, 0.25),
    p75: quantile(xs, 0.75),
    n: xs.length,
  };
}
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  return s[Math.floor(i)]! + (s[Math.ceil(i)]! - s[Math.floor(i)]!) * (i - Math.floor(i));
};

/**
 * The fleet phase: FLEET_ROUNDS rounds, each lrsweep then Ray Tune then Optuna on the same trials,
 * so load drifts over all three alike; per framework the median slot time and its spread, and the
 * median of the per-round ratios (lrsweep ÷ the other, measured minutes apart).
 */
async function fleetPhase(env: Record<string, string>, client: LrsweepClient) {
  log(
    `• fleet: ${FLEET_TRIALS} tiny trials, two at a time (one worker, WORKER_SLOTS=2); ${FLEET_ROUNDS} round(s) of lrsweep, Ray Tune, Optuna`,
  );
  const rounds: { lrsweep: Awaited<ReturnType<typeof lrsweepFleet>>['lrsweep']; others: OtherRun[] }[] = [];
  let breakdown: Record<string, number> = {};
  for (let r = 0; r < FLEET_ROUNDS; r++) {
    if (FLEET_ROUNDS > 1) log(`  round ${r + 1} of ${FLEET_ROUNDS}`);
    const own = await lrsweepFleet(env, client);
    breakdown = own.breakdown;
    rounds.push({ lrsweep: own.lrsweep, others: otherFleets() });
  }
  const ratios = (f: string) =>
    rounds.flatMap((x) => {
      const o = x.others.find((y) => y.framework === f);
      return o ? [x.lrsweep.slotMsPerTrialNotTraining / o.slotMsPerTrialNotTraining] : [];
    });
  const slot = (f: string) =>
    rounds.flatMap((x) => x.others.filter((y) => y.framework === f).map((y) => y.slotMsPerTrialNotTraining));
  const ray = ratios('ray');
  const optuna = ratios('optuna');
  return {
    lrsweep: rounds.at(-1)!.lrsweep,
    breakdown,
    rounds,
    slotMs: {
      lrsweep: spread(rounds.map((x) => x.lrsweep.slotMsPerTrialNotTraining)),
      ...(slot('ray').length ? { ray: spread(slot('ray')) } : {}),
      ...(slot('optuna').length ? { optuna: spread(slot('optuna')) } : {}),
    },
    engineTransactionsPerTrial: median(rounds.map((x) => x.lrsweep.engineTransactionsPerTrial)),
    vsRayTune: ray.length ? spread(ray) : null,
    vsOptuna: optuna.length ? spread(optuna) : null,
  };
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
    const fleet = await fleetPhase(env, client);
    printFleet(fleet);
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
  const fleet = await fleetPhase(env, client);
  printFleet(fleet);
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

function printFleet(f: Awaited<ReturnType<typeof fleetPhase>>) {
  const n = f.slotMs.lrsweep.n;
  const range = (x: ReturnType<typeof spread>, d: number, unit: string) =>
    n > 1
      ? `${x.median.toFixed(d)}${unit} (${x.min.toFixed(d)}–${x.max.toFixed(d)}; IQR ${x.p25.toFixed(d)}–${x.p75.toFixed(d)})`
      : `${x.median.toFixed(d)}${unit}`;
  const ratio = (x: ReturnType<typeof spread> | null) => (x === null ? 'not run' : range(x, 3, '×'));
  const over = n > 1 ? `median of ${n} alternated rounds (min–max; IQR)` : 'one round';
  log(
    `| slot time per trial not training, ${f.lrsweep.trials} tiny trials, 2 at a time, ${over} | ${range(f.slotMs.lrsweep, 1, ' ms')} | ≤ 10 ms |`,
  );
  if (f.slotMs.ray) log(`| … Ray Tune's, same trials, same rounds | ${range(f.slotMs.ray, 1, ' ms')} | |`);
  if (f.slotMs.optuna)
    log(`| … Optuna's on Postgres, same trials, same rounds | ${range(f.slotMs.optuna, 1, ' ms')} | |`);
  log(`| engine transactions per trial (its own counter) | ${f.engineTransactionsPerTrial.toFixed(2)} | ≤ 2 |`);
  log(`| lrsweep ÷ Ray Tune, per round | ${ratio(f.vsRayTune)} | ≤ 0.04× (1/25) |`);
  log(`| lrsweep ÷ Optuna on Postgres, per round | ${ratio(f.vsOptuna)} | ≤ 0.125× |`);
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
