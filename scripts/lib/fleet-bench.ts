// The fleet phase of `pnpm bench:orchestration` (scripts/bench-orchestration.ts): tiny trials two at
// a time through one lrsweep worker, then the same trials through Ray Tune and Optuna, in alternated
// rounds; medians with their spread, the per-round ratios, and the load each round ran under.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { LrsweepClient } from '@lrsweep/client';
import type { SweepSpecInput } from '@lrsweep/contract';
import { type RunningProcess, startWorker } from '@lrsweep/testkit';
import pg from 'pg';
import { median, spread } from './stats';

/** What the fleet phase needs of the bench around it. */
export interface FleetBench {
  root: string;
  databaseUrl: string;
  /** Trials a round, and rounds (each lrsweep, then Ray Tune, then Optuna). */
  trials: number;
  rounds: number;
  log(s: string): void;
  /** Processes the bench stops at its end. */
  started: RunningProcess[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** .venv-bench with Ray Tune and Optuna (pip serves both here); null, with why, when it cannot be made. */
function benchPython(b: FleetBench): { py: string } | { why: string } {
  const venv = join(b.root, '.venv-bench');
  const py = join(venv, 'bin/python');
  const has = () => spawnSync(py, ['-c', 'import ray, optuna, psycopg2'], { stdio: 'ignore' }).status === 0;
  if (existsSync(py) && has()) return { py };
  b.log('• making .venv-bench with Ray Tune and Optuna (first run only)');
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

async function pgCounters(databaseUrl: string) {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  const { rows } = await c.query<{ xact: string; writes: string }>(
    'SELECT xact_commit::text AS xact, (tup_inserted + tup_updated + tup_deleted)::text AS writes FROM pg_stat_database WHERE datname = current_database()',
  );
  await c.end();
  return { xact: Number(rows[0]!.xact), writes: Number(rows[0]!.writes) };
}

/** One lrsweep fleet run: a worker with two slots trains `b.trials` tiny trials. */
async function lrsweepFleet(b: FleetBench, env: Record<string, string>, client: LrsweepClient) {
  const worker = await startWorker({ ...env, WORKER_ID: 'bench-fleet', WORKER_SLOTS: '2', WORKER_HEALTH_PORT: '0' });
  b.started.push(worker);
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
  const before = await pgCounters(b.databaseUrl);
  const engineBefore = await engineTx();
  const created = await client.submitSweep(fleetSpec(b.trials));
  const done = await client.follow(created.id, () => {}, 500);
  if (done.counts.completed !== b.trials)
    throw new Error(`fleet sweep did not complete: ${JSON.stringify(done.counts)}`);
  await sleep(1500);
  const after = await pgCounters(b.databaseUrl);
  const engineAfter = await engineTx();
  const c = new pg.Client({ connectionString: b.databaseUrl });
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
    trials: b.trials,
    concurrency: 2,
    makespanS: makespanMs / 1000,
    trainS: rows[0]!.train_ms / 1000,
    trialsPerS: b.trials / (makespanMs / 1000),
    slotMsPerTrialNotTraining: (2 * makespanMs - rows[0]!.train_ms) / b.trials,
    // The engine's own count (the worker's lrsweep_engine_transactions_total): target ≤ 2.
    engineTransactionsPerTrial: (engineAfter - engineBefore) / b.trials,
    // The whole database's, the API's reads included (the ranking, the follow polls).
    pgTransactionsPerTrial: (after.xact - before.xact) / b.trials,
    rowWritesPerTrial: (after.writes - before.writes) / b.trials,
  };
  b.log(
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
  b.log(
    `  per trial (medians, ms): on the slot: queue hand-off ${breakdown.handOff!.toFixed(1)} · claim ${breakdown.claim!.toFixed(1)} · prepare ${breakdown.prepare!.toFixed(1)}; beside the next trial: last metric rows ${breakdown.close!.toFixed(1)} · end recorded ${breakdown.finish!.toFixed(1)}`,
  );
  // Every phase the worker timed (see apps/worker/src/phases.ts), for where the rest went.
  const every = [...new Set(finished.flatMap((l) => Object.keys((l.phasesMs as object | undefined) ?? {})))];
  const outsideLoop = median(
    finished
      .map((l) => ((l.phasesMs as Record<string, number> | undefined)?.train ?? Number.NaN) - Number(l.trainMs))
      .filter((v) => Number.isFinite(v)),
  );
  b.log(
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
function otherFleets(b: FleetBench): OtherRun[] {
  const others: OtherRun[] = [];
  const python = benchPython(b);
  if ('why' in python) b.log(`  Ray Tune and Optuna not run: ${python.why}`);
  else {
    const optunaDb = new URL(b.databaseUrl);
    optunaDb.pathname = '/lrsweep_bench_optuna';
    for (const framework of ['ray', 'optuna']) {
      const r = spawnSync(
        python.py,
        [
          join(b.root, 'scripts/bench_orchestrators.py'),
          '--framework',
          framework,
          '--trials',
          String(b.trials),
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
        b.log(`  ${framework}: did not run (${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')})`);
        continue;
      }
      const x = JSON.parse(line) as OtherRun;
      others.push(x);
      b.log(
        `  ${x.version}: ${x.trialsPerS.toFixed(1)} trials/s, ${x.slotMsPerTrialNotTraining.toFixed(1)} ms of slot time per trial not training`,
      );
    }
  }
  return others;
}

/**
 * The fleet phase: b.rounds rounds, each lrsweep then Ray Tune then Optuna on the same trials,
 * so load drifts over all three alike; per framework the median slot time and its spread, and the
 * median of the per-round ratios (lrsweep ÷ the other, measured minutes apart).
 */
export async function fleetPhase(b: FleetBench, env: Record<string, string>, client: LrsweepClient) {
  b.log(
    `• fleet: ${b.trials} tiny trials, two at a time (one worker, WORKER_SLOTS=2); ${b.rounds} round(s) of lrsweep, Ray Tune, Optuna`,
  );
  const rounds: { lrsweep: Awaited<ReturnType<typeof lrsweepFleet>>['lrsweep']; others: OtherRun[]; load: number }[] =
    [];
  let breakdown: Record<string, number> = {};
  for (let r = 0; r < b.rounds; r++) {
    if (b.rounds > 1) b.log(`  round ${r + 1} of ${b.rounds}`);
    const own = await lrsweepFleet(b, env, client);
    breakdown = own.breakdown;
    rounds.push({ lrsweep: own.lrsweep, others: otherFleets(b), load: loadavg()[0]! });
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
    /** The 1-minute load average after each round (2 cores here: ≈ 2 is busy with the bench alone). */
    load: spread(rounds.map((x) => x.load)),
    vsRayTune: ray.length ? spread(ray) : null,
    vsOptuna: optuna.length ? spread(optuna) : null,
  };
}

export function printFleet(b: FleetBench, f: Awaited<ReturnType<typeof fleetPhase>>) {
  const n = f.slotMs.lrsweep.n;
  const range = (x: ReturnType<typeof spread>, d: number, unit: string) =>
    n > 1
      ? `${x.median.toFixed(d)}${unit} (${x.min.toFixed(d)}–${x.max.toFixed(d)}; IQR ${x.p25.toFixed(d)}–${x.p75.toFixed(d)})`
      : `${x.median.toFixed(d)}${unit}`;
  const ratio = (x: ReturnType<typeof spread> | null) => (x === null ? 'not run' : range(x, 3, '×'));
  const over = n > 1 ? `median of ${n} alternated rounds (min–max; IQR)` : 'one round';
  b.log(
    `| slot time per trial not training, ${f.lrsweep.trials} tiny trials, 2 at a time, ${over} | ${range(f.slotMs.lrsweep, 1, ' ms')} | ≤ 10 ms |`,
  );
  if (f.slotMs.ray) b.log(`| … Ray Tune's, same trials, same rounds | ${range(f.slotMs.ray, 1, ' ms')} | |`);
  if (f.slotMs.optuna)
    b.log(`| … Optuna's on Postgres, same trials, same rounds | ${range(f.slotMs.optuna, 1, ' ms')} | |`);
  if (n > 1) {
    // PERFORMANCE.md: the reference's own spread, and the load the rounds ran under.
    const rel = (x: ReturnType<typeof spread>) => `${((100 * (x.p75 - x.p25)) / x.median).toFixed(0)}%`;
    b.log(
      `| spread (IQR ÷ median): lrsweep ${rel(f.slotMs.lrsweep)}${f.slotMs.ray ? `, Ray Tune ${rel(f.slotMs.ray)}` : ''}${f.slotMs.optuna ? `, Optuna ${rel(f.slotMs.optuna)}` : ''}; load average ${f.load.median.toFixed(2)} (${f.load.min.toFixed(2)}–${f.load.max.toFixed(2)}) | | |`,
    );
  }
  b.log(`| engine transactions per trial (its own counter) | ${f.engineTransactionsPerTrial.toFixed(2)} | ≤ 2 |`);
  b.log(`| lrsweep ÷ Ray Tune, per round | ${ratio(f.vsRayTune)} | ≤ 0.04× (1/25) |`);
  b.log(`| lrsweep ÷ Optuna on Postgres, per round | ${ratio(f.vsOptuna)} | ≤ 0.125× |`);
}
