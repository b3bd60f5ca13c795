// `pnpm bench:results [--small]`: results at scale. Seeds Postgres with 1 000 configurations × 10
// seeds × 1 000 updates (10 000 trials, 10 M update rows, 100 k evaluations), then reports p50/p95
// over 60 requests of the ranking and of curves for 20 configurations (real HTTP, no response
// cache: every request reads the database), the query plans, and the ingest rate of the project's
// metric write path beside a raw batched INSERT … SELECT unnest(…) into the same table, same run.
import { randomUUID } from 'node:crypto';
import { createDb, createToken, defaultDatabaseUrl, migrate } from '@lrsweep/db';
import { writeUpdates } from '@lrsweep/engine';
import { createRedis, createTrialQueue } from '@lrsweep/queue';
import pg from 'pg';
import { buildApp } from '@lrsweep/api';
import { percentile } from './lib/stats';

const small = process.argv.includes('--small');
/** Re-measure on the database a previous run seeded (same size), skipping the seeding. */
const reuse = process.argv.includes('--reuse');
const CONFIGS = small ? 100 : 1000;
const SEEDS = small ? 5 : 10;
const STEPS = small ? 200 : 1000;
const EVAL_EVERY = STEPS / 10;
const REQUESTS = 60;
const INGEST_ROWS = small ? 50_000 : 200_000;

const base = new URL(process.env.DATABASE_URL ?? defaultDatabaseUrl);
base.pathname = '/lrsweep_bench';
const url = base.toString();
const log = (s: string) => process.stdout.write(`${s}\n`);

async function sql(client: pg.Client, text: string, params: unknown[] = []) {
  return client.query(text, params);
}

async function seed(): Promise<string> {
  const admin = new pg.Client({ connectionString: url.replace(/\/lrsweep_bench$/, '/postgres') });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS lrsweep_bench WITH (FORCE)');
  await admin.end();
  await migrate({ url });
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await sql(c, 'SET synchronous_commit = off');
  const sweepId = randomUUID();
  const t0 = Date.now();
  await sql(
    c,
    `INSERT INTO sweeps (id, name, spec, objective, trial_count) VALUES ($1, 'bench', '{}', '{"metric":"val_loss","mode":"min","aggregate":"final"}', $2)`,
    [sweepId, CONFIGS * SEEDS],
  );
  // 10 schedules × CONFIGS/10 base LRs (log-spaced).
  await sql(
    c,
    `INSERT INTO sweep_configs (sweep_id, config_id, base_lr, schedule, schedule_key)
     SELECT $1::uuid, 'c' || i, 1e-4 * power(10, (i % ($2 / 10))::float8 * 3 / ($2 / 10)),
            jsonb_build_object('kind', 'cosine', 'minFactor', (i / ($2 / 10))::float8 / 20), 's' || (i / ($2 / 10))
       FROM generate_series(0, $2::int - 1) i`,
    [sweepId, CONFIGS],
  );
  await sql(
    c,
    `INSERT INTO trials (id, sweep_id, identity, config_id, ordinal, config, status, attempt, total_steps, finished_at)
     SELECT gen_random_uuid(), $1::uuid, md5($1::text || c.config_id || s), c.config_id, row_number() OVER () - 1,
            jsonb_build_object('baseLr', c.base_lr, 'schedule', c.schedule, 'seed', s), 'completed', 1, $3, now()
       FROM sweep_configs c CROSS JOIN generate_series(0, $2::int - 1) s WHERE c.sweep_id = $1::uuid`,
    [sweepId, SEEDS, STEPS],
  );
  log(
    `• seeded ${CONFIGS} configurations and ${CONFIGS * SEEDS} trials (${Date.now() - t0} ms); writing ${CONFIGS * SEEDS * STEPS} update rows…`,
  );
  const t1 = Date.now();
  // A decaying loss with per-seed noise, and a cosine LR: realistic values, generated server-side.
  await sql(
    c,
    `INSERT INTO update_metrics (trial_id, step, lr, train_loss, attempt)
     SELECT t.id, s, (t.config->>'baseLr')::float8 * (1 + cos(pi() * s / $2)) / 2,
            2.3 * exp(-s / ($2 / 3.0)) + 0.05 * (hashtext(t.id::text || s) % 1000) / 1000.0 + 0.1, 1
       FROM trials t CROSS JOIN generate_series(0, $2::int - 1) s WHERE t.sweep_id = $1::uuid`,
    [sweepId, STEPS],
  );
  await sql(
    c,
    `INSERT INTO evaluations (trial_id, step, val_loss, val_acc, train_loss, attempt)
     SELECT t.id, s, 2.4 * exp(-s / ($2 / 3.0)) + 0.02 * (hashtext(t.id::text || s || 'v') % 1000) / 1000.0 + 0.12,
            0.9 - 0.8 * exp(-s / ($2 / 3.0)), 2.3 * exp(-s / ($2 / 3.0)) + 0.1, 1
       FROM trials t CROSS JOIN generate_series($3::int, $2::int, $3::int) s WHERE t.sweep_id = $1::uuid`,
    [sweepId, STEPS, EVAL_EVERY],
  );
  log(
    `• metric rows written (${((Date.now() - t1) / 1000).toFixed(0)} s); building summaries and curves the way completions do…`,
  );
  // The same aggregates refreshTrialSummary and mergeConfigCurves maintain, in bulk.
  await sql(
    c,
    `UPDATE trials t SET final_val_loss = s.fvl, final_val_acc = s.fva, final_train_loss = s.ftl, best_val_loss = s.bvl,
            best_val_acc = s.bva, best_train_loss = s.btl, auc_val_loss = s.avl, auc_val_acc = s.ava, auc_train_loss = s.atl
       FROM (SELECT trial_id, (array_agg(val_loss ORDER BY step DESC))[1] fvl, (array_agg(val_acc ORDER BY step DESC))[1] fva,
                    (array_agg(train_loss ORDER BY step DESC))[1] ftl, min(val_loss) bvl, max(val_acc) bva, min(train_loss) btl,
                    avg(val_loss) avl, avg(val_acc) ava, avg(train_loss) atl
               FROM evaluations GROUP BY trial_id) s WHERE s.trial_id = t.id`,
  );
  await sql(
    c,
    `INSERT INTO config_series (sweep_id, config_id, metric, steps, n, sum, sumsq)
     SELECT sweep_id, config_id, metric, array_agg(step ORDER BY step), array_agg(n ORDER BY step), array_agg(s ORDER BY step), array_agg(q ORDER BY step)
       FROM (SELECT t.sweep_id, t.config_id, m.metric, m.step, count(*)::int AS n, sum(m.v) AS s, sum(m.v * m.v) AS q
       FROM trials t CROSS JOIN LATERAL (
         SELECT 'train_loss' AS metric, step, train_loss AS v FROM update_metrics WHERE trial_id = t.id
         UNION ALL SELECT 'lr', step, lr FROM update_metrics WHERE trial_id = t.id
         UNION ALL SELECT 'val_loss', step, val_loss FROM evaluations WHERE trial_id = t.id
         UNION ALL SELECT 'val_acc', step, val_acc FROM evaluations WHERE trial_id = t.id) m
      WHERE t.sweep_id = $1::uuid GROUP BY t.sweep_id, t.config_id, m.metric, m.step) per_step
      GROUP BY sweep_id, config_id, metric`,
    [sweepId],
  );
  await sql(c, 'VACUUM ANALYZE');
  log(`• seeding done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  await c.end();
  return sweepId;
}

async function existingSweep(): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const r = await c.query("SELECT id FROM sweeps WHERE name = 'bench' LIMIT 1");
  await c.end();
  if (!r.rows[0]) throw new Error('--reuse: no seeded benchmark database; run without --reuse first');
  return r.rows[0].id as string;
}

async function timeRequests(get: () => Promise<Response>): Promise<{ p50: number; p95: number }> {
  for (let i = 0; i < 5; i++) await (await get()).arrayBuffer(); // warm the database and the JIT
  const ms: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t = performance.now();
    const r = await get();
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`status ${r.status}`);
    ms.push(performance.now() - t);
  }
  return { p50: percentile(ms, 50), p95: percentile(ms, 95) };
}

async function ingest(sweepId: string) {
  const { prisma, close } = createDb({ url, poolSize: 2 });
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const trialsFor = async (n: number) => {
    const ids = Array.from({ length: n }, () => randomUUID());
    await c.query(
      `INSERT INTO trials (id, sweep_id, identity, config_id, ordinal, config, status, attempt, total_steps)
       SELECT id, $1, id::text, 'c0', 0, '{}', 'running', 1, 1000 FROM unnest($2::uuid[]) id`,
      [sweepId, ids],
    );
    return ids;
  };
  const batches = INGEST_ROWS / 1000;
  const rowsOf = (b: number) =>
    Array.from({ length: 1000 }, (_, i) => ({ step: b * 1000 + i, lr: 0.001, trainLoss: 1 / (i + 1) }));
  // The project's path: the worker's writeUpdates (Prisma $executeRaw, unnest, attempt-fenced upsert).
  const [tp] = await trialsFor(1);
  let t = performance.now();
  for (let b = 0; b < batches; b++) await writeUpdates(prisma, tp!, 1, rowsOf(b));
  const ingestRowsPerSec = INGEST_ROWS / ((performance.now() - t) / 1000);
  // The raw reference: the same rows, batched INSERT … SELECT unnest on one connection.
  const [tr] = await trialsFor(1);
  t = performance.now();
  for (let b = 0; b < batches; b++) {
    const rows = rowsOf(b);
    await c.query(
      'INSERT INTO update_metrics (trial_id, step, lr, train_loss, attempt) SELECT $1::uuid, s, l, tl, 1 FROM unnest($2::int[], $3::float8[], $4::float8[]) AS u(s, l, tl)',
      [tr, rows.map((r) => r.step), rows.map((r) => r.lr), rows.map((r) => r.trainLoss)],
    );
  }
  const rawRowsPerSec = INGEST_ROWS / ((performance.now() - t) / 1000);
  await c.end();
  await close();
  return { ingestRowsPerSec, rawRowsPerSec };
}

async function explain(sweepId: string, configIds: string[]) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const plan = async (label: string, text: string, params: unknown[]) => {
    const r = await c.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text}`, params);
    log(`\n— plan: ${label}\n${r.rows.map((x) => `  ${x['QUERY PLAN']}`).join('\n')}`);
  };
  await plan(
    'ranking (per-configuration aggregates of trial summaries)',
    `SELECT c.config_id, c.base_lr, c.schedule, c.schedule_key, count(t.id), count(*) FILTER (WHERE t.status = 'diverged'),
            count(t.final_val_loss) FILTER (WHERE t.status = 'completed'), avg(t.final_val_loss) FILTER (WHERE t.status = 'completed'),
            stddev_samp(t.final_val_loss) FILTER (WHERE t.status = 'completed')
       FROM sweep_configs c JOIN trials t ON t.sweep_id = c.sweep_id AND t.config_id = c.config_id
      WHERE c.sweep_id = $1 GROUP BY c.sweep_id, c.config_id`,
    [sweepId],
  );
  await plan(
    'curves (20 configurations, training loss and LR)',
    'SELECT config_id, metric, steps, n, sum, sumsq FROM config_series WHERE sweep_id = $1 AND config_id = ANY($2) AND metric = ANY($3)',
    [sweepId, configIds, ['train_loss', 'lr']],
  );
  await c.end();
}

async function main() {
  log(
    `lrsweep results benchmark${small ? ' (--small)' : ''}: ${CONFIGS} configurations × ${SEEDS} seeds × ${STEPS} updates`,
  );
  const sweepId = reuse ? await existingSweep() : await seed();
  const { prisma, close } = createDb({ url, poolSize: 10 });
  const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const queue = createTrialQueue({ connection: redis, prefix: `lrsweep-bench-${process.pid}` });
  const app = await buildApp({ db: prisma, redis, queue, rateLimitPerMinute: 1_000_000 });
  const { token } = await createToken(prisma, { projectId: 'default', name: 'bench', role: 'admin' });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const get = (path: string) => () => fetch(`${address}${path}`, { headers: { authorization: `Bearer ${token}` } });

  const ranking = await timeRequests(get(`/v1/sweeps/${sweepId}/results`));
  const top = (
    (await (await get(`/v1/sweeps/${sweepId}/results`)()).json()) as { ranking: { configId: string }[] }
  ).ranking
    .slice(0, 20)
    .map((r) => r.configId);
  const curves = await timeRequests(
    get(`/v1/sweeps/${sweepId}/curves?metric=train_loss&configs=${top.join(',')}&points=500`),
  );
  await app.close();
  await queue.close();
  redis.disconnect();
  await close();
  await explain(sweepId, top);
  const ing = await ingest(sweepId);

  const trials = CONFIGS * SEEDS;
  const metricRows = trials * STEPS;
  log('\n| measure | value |\n|---|---|');
  log(`| data | ${trials} trials, ${metricRows} update rows, ${trials * 10} evaluations |`);
  log(
    `| ranking (${CONFIGS} rows), p50 / p95 | ${ranking.p50.toFixed(1)} / ${ranking.p95.toFixed(1)} ms (target p95 < 100) |`,
  );
  log(
    `| curves (20 configs × ${STEPS} steps), p50 / p95 | ${curves.p50.toFixed(1)} / ${curves.p95.toFixed(1)} ms (target p95 < 150) |`,
  );
  log(`| ingest, project write path | ${Math.round(ing.ingestRowsPerSec)} rows/s |`);
  log(`| ingest, raw unnest insert | ${Math.round(ing.rawRowsPerSec)} rows/s |`);
  log(`| ratio | ${(ing.ingestRowsPerSec / ing.rawRowsPerSec).toFixed(2)} (target ≥ 0.5) |`);
  log(
    JSON.stringify({
      bench: 'results',
      trials,
      metricRows,
      rankingP95Ms: Number(ranking.p95.toFixed(2)),
      curvesP95Ms: Number(curves.p95.toFixed(2)),
      ingestRowsPerSec: Math.round(ing.ingestRowsPerSec),
      rawRowsPerSec: Math.round(ing.rawRowsPerSec),
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
