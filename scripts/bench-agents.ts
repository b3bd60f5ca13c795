// `pnpm bench:agents [--quick]`: what the agent protocol adds to a trial (PERFORMANCE.md: under
// 2% of a 10-second trial), through the real API, Postgres, Redis and the Python SDK, beside a
// built-in worker on the same trivial trial in the same run:
// - per trial: the share of a trial's wall time (claim → completed, the server's clock) not spent
//   on the trainer's own (simulated) compute; claim → first update; completed → ranked;
// - per update batch: the latency of posting 500 update rows (each lr checked against the schedule);
// - the built-in worker's share on a trivial trial (wall − training loop), for contrast.
import { randomBytes } from 'node:crypto';
import { defaultDatabaseUrl, migrate } from '@lrsweep/db';
import { createClient } from '@lrsweep/client';
import { createRedis, defaultRedisUrl } from '@lrsweep/queue';
import { apiClient, type RunningProcess, startAgentProcess, startApi, startWorker } from '@lrsweep/testkit';
import pg from 'pg';
import { median } from './lib/stats';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 3;
const STEPS = 1000;
const STEP_SECONDS = quick ? 0.004 : 0.01;

const base = new URL(process.env.DATABASE_URL ?? defaultDatabaseUrl);
base.pathname = '/lrsweep_bench_agents';
const databaseUrl = base.toString();
const redisUrl = process.env.REDIS_URL ?? defaultRedisUrl;
const prefix = `lrsweep-bench-${randomBytes(4).toString('hex')}`;
const token = `lrs_bench_${randomBytes(24).toString('base64url')}`;
const started: RunningProcess[] = [];
const log = (s: string) => process.stdout.write(`${s}\n`);

async function freshDatabase() {
  const admin = new pg.Client({ connectionString: databaseUrl.replace(/\/lrsweep_bench_agents$/, '/postgres') });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS lrsweep_bench_agents WITH (FORCE)');
  await admin.end();
  await migrate({ url: databaseUrl });
}

const external = (seed: number) => ({
  name: `agent-${seed}`,
  runner: { kind: 'external' as const, pool: 'bench', config: {} },
  training: { totalSteps: STEPS, evalEvery: 100 },
  grid: { baseLr: [0.01], schedule: [{ kind: 'cosine', warmup: { steps: 50 } }], seeds: [seed] },
});
const builtin = (seed: number) => ({
  name: `builtin-${seed}`,
  dataset: { name: 'synthetic' as const, trainSize: 640, testSize: 64 },
  model: { kind: 'mlp' as const, hidden: [16] },
  training: { epochs: Math.ceil(STEPS / 9), batchSize: 64, evalEvery: 100 },
  grid: { baseLr: [0.01], schedule: [{ kind: 'cosine', warmup: { steps: 50 } }], seeds: [seed] },
});

async function main() {
  await freshDatabase();
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    LRSWEEP_BOOTSTRAP_TOKEN: token,
    LRSWEEP_BACKEND: 'wasm',
    LOG_LEVEL: 'warn',
  };
  const api = await startApi({ ...env, LOG_LEVEL: 'info' });
  started.push(api);
  const client = createClient({ baseUrl: api.url, token });
  const agentToken = (
    await client.createToken({ projectId: 'default', name: 'bench', role: 'agent', pools: ['bench'] })
  ).token;
  const python = process.env.LRSWEEP_PYTHON ?? 'python3';

  log(
    `• per trial: ${ROUNDS} external trial(s) of ${STEPS} updates × ${STEP_SECONDS * 1000} ms of compute, through the Python SDK`,
  );
  const rounds: { wall: number; compute: number; share: number; claimToFirstMs: number; completeToRankedMs: number }[] =
    [];
  for (let r = 0; r < ROUNDS; r++) {
    const created = await client.submitSweep(external(r));
    const trainer = startAgentProcess(python, ['scripts/lib/agent-bench-trainer.py'], {
      LRSWEEP_API_URL: api.url,
      LRSWEEP_TOKEN: agentToken,
      BENCH_STEP_SECONDS: String(STEP_SECONDS),
      BENCH_IDLE: '2',
    });
    const line = await trainer.waitFor((l) => l.startsWith('{"trial"'), 120_000);
    const t = JSON.parse(line) as {
      trial: string;
      claimed: number;
      firstUpdate: number;
      completed: number;
      computeSeconds: number;
    };
    // Ranked: the completed trial counts in the ranking.
    let ranked = Date.now();
    for (;;) {
      const res = await client.results(created.id);
      if (res.ranking[0]?.n === 1) break;
      ranked = Date.now();
      await new Promise((res_) => setTimeout(res_, 5));
    }
    await trainer.exited;
    const [trial] = (await client.listTrials(created.id)).trials;
    const wall = (Date.parse(trial!.finishedAt!) - Date.parse(trial!.startedAt!)) / 1000;
    const share = (wall - t.computeSeconds) / wall;
    rounds.push({
      wall,
      compute: t.computeSeconds,
      share,
      claimToFirstMs: (t.firstUpdate - t.claimed) * 1000,
      completeToRankedMs: Math.max(0, ranked - t.completed * 1000),
    });
    log(
      `  round ${r + 1}: ${wall.toFixed(2)} s claimed → completed, ${t.computeSeconds.toFixed(2)} s of it the trainer's compute: ${(100 * share).toFixed(2)}%`,
    );
  }

  log('• per update batch: 500 rows a batch, 20 batches, by hand');
  const batch = await client.submitSweep({
    ...external(99),
    name: 'batches',
    training: { totalSteps: 10_000, evalEvery: 10_000 },
  });
  const agent = apiClient(api.url, agentToken);
  const me = (await agent.post('/v1/agents', { name: 'batch-bench', pool: 'bench', protocolVersion: 2 })).body.agentId;
  const claim = (await agent.post(`/v1/agents/${me}/claim`, { waitMs: 5000 })).body.trial;
  const lr = (
    await agent.get(
      `/v1/trials/${claim.id}/lr?attempt=1&from=0&count=10000&leaseToken=${encodeURIComponent(claim.leaseToken)}`,
    )
  ).body.lr as number[];
  const batchMs: number[] = [];
  for (let b = 0; b < 20; b++) {
    const updates = Array.from({ length: 500 }, (_, i) => ({ step: b * 500 + i, lr: lr[b * 500 + i]!, loss: 0.5 }));
    const t0 = performance.now();
    const r = await agent.post(`/v1/trials/${claim.id}/updates`, { attempt: 1, leaseToken: claim.leaseToken, updates });
    batchMs.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`batch ${b}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  await client.cancelSweep(batch.id);

  log('• the built-in worker on a trivial trial of the same length');
  const worker = await startWorker({ ...env, WORKER_ID: 'bench-worker', LOG_LEVEL: 'info' });
  started.push(worker);
  const builtinShares: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const created = await client.submitSweep(builtin(r));
    await client.follow(created.id, () => {}, 200);
    const [trial] = (await client.listTrials(created.id)).trials;
    const wall = Date.parse(trial!.finishedAt!) - Date.parse(trial!.startedAt!);
    builtinShares.push((wall - trial!.trainMs!) / wall);
  }

  const share = median(rounds.map((r) => r.share));
  log('');
  log('| measure | value | target |');
  log('|---|---|---|');
  log(
    `| an agent's protocol time in a ${median(rounds.map((r) => r.wall)).toFixed(1)} s trial (claim → completed, median of ${rounds.length}) | ${(100 * share).toFixed(2)}% | < 2% |`,
  );
  log(`| claim answered → first update logged | ${median(rounds.map((r) => r.claimToFirstMs)).toFixed(0)} ms | |`);
  log(`| completed → counted in the ranking | ${median(rounds.map((r) => r.completeToRankedMs)).toFixed(0)} ms | |`);
  log(
    `| one batch of 500 update rows (checked, stored), p50 / max | ${median(batchMs).toFixed(1)} / ${Math.max(...batchMs).toFixed(1)} ms | |`,
  );
  log(
    `| the built-in worker's own time in a trivial ${STEPS}-update trial (wall − training loop) | ${(100 * median(builtinShares)).toFixed(2)}% | |`,
  );
  log(
    JSON.stringify({
      bench: 'agents',
      agentShare: share,
      rounds,
      batchMs: { p50: median(batchMs), max: Math.max(...batchMs) },
      builtinShare: median(builtinShares),
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
