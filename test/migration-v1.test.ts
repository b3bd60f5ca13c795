// A database written by lrsweep before v1.1 (the schema of its last migration, rows as v1 wrote
// them), migrated to v1.1: nothing is lost or reinterpreted. Stored sweeps read as
// validationSize 0 (selected on the test split), a queued v1 trial trains exactly as v1 would,
// tokens keep their powers, and no trial has spent any of its failure budget.
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { defaultMigrationsDir, hashToken, migrate } from '@lrsweep/db';
import {
  apiClient,
  createEmptyDatabase,
  deletePrefix,
  query,
  type RunningProcess,
  redisUrl,
  startApi,
  startWorker,
  type TestDatabase,
  uniquePrefix,
} from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const LAST_V1_MIGRATION = '20261128040000_trial_timings';
const adminToken = 'lrs_v1-admin-token-0123456789abcdef';
const memberToken = 'lrs_v1-member-token-0123456789abcdef';
const sweepId = randomUUID();
const [done, failed, queued] = [randomUUID(), randomUUID(), randomUUID()];
const v1Spec = {
  name: 'v1-sweep',
  dataset: { name: 'mnist', trainSize: 1000, testSize: 200 },
  model: { kind: 'mlp', hidden: [16], activation: 'relu' },
  optimizer: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
  training: { epochs: 1, batchSize: 100, evalEvery: 5 },
  grid: { baseLr: [0.001, 0.01], schedule: [{ kind: 'constant' }], seeds: [0, 1] },
  objective: { metric: 'val_loss', mode: 'min', aggregate: 'final' },
};
const trialConfig = (baseLr: number, seed: number) => ({
  baseLr,
  schedule: { kind: 'constant' },
  seed,
  dataset: v1Spec.dataset,
  model: v1Spec.model,
  optimizer: v1Spec.optimizer,
  training: v1Spec.training,
});

/** What v1 wrote for a sweep with one completed, one failed and one queued trial. */
async function seedV1(url: string) {
  const sql = (text: string, params: unknown[] = []) => query(url, text, params);
  // The v1 migrations made project "default" (sweeps before projects belong to it).
  await sql(
    "INSERT INTO api_tokens (id, project_id, name, token_hash, admin) VALUES ($1, 'default', 'ops', $2, true), ($3, 'default', 'dev', $4, false)",
    [randomUUID(), hashToken(adminToken), randomUUID(), hashToken(memberToken)],
  );
  await sql(
    "INSERT INTO sweeps (id, project_id, name, spec, objective, trial_count) VALUES ($1, 'default', 'v1-sweep', $2, $3, 3)",
    [sweepId, v1Spec, v1Spec.objective],
  );
  await sql(
    "INSERT INTO sweep_configs (sweep_id, config_id, base_lr, schedule, schedule_key) VALUES ($1, 'cfg-a', 0.01, '{\"kind\":\"constant\"}', 'key-c'), ($1, 'cfg-b', 0.001, '{\"kind\":\"constant\"}', 'key-c')",
    [sweepId],
  );
  const trial = `INSERT INTO trials (id, sweep_id, identity, config_id, ordinal, config, status, attempt, total_steps, job_id, error, final_val_loss, final_val_acc, final_train_loss,
                   best_val_loss, best_val_acc, best_train_loss, auc_val_loss, auc_val_acc, auc_train_loss, finished_at)
                 VALUES ($1::uuid, $2, $3, $4, $5, $6, $7::"TrialStatus", $8, 10, 'trial-' || $1::text, $9, $10::float8, $11::float8, $12::float8,
                         $10::float8, $11::float8, $12::float8, $10::float8, $11::float8, $12::float8, CASE WHEN $7::text = 'queued' THEN NULL ELSE now() END)`;
  await sql(trial, [done, sweepId, 'id-done', 'cfg-a', 0, trialConfig(0.01, 0), 'completed', 1, null, 0.5, 0.8, 0.6]);
  await sql(trial, [
    failed,
    sweepId,
    'id-failed',
    'cfg-a',
    1,
    trialConfig(0.01, 1),
    'failed',
    1,
    'dataset: the disk went away',
    null,
    null,
    null,
  ]);
  await sql(trial, [
    queued,
    sweepId,
    'id-queued',
    'cfg-b',
    2,
    trialConfig(0.001, 0),
    'queued',
    0,
    null,
    null,
    null,
    null,
  ]);
  await sql(
    'INSERT INTO update_metrics (trial_id, step, lr, train_loss, attempt) SELECT $1, s, 0.01, 1.0 / (s + 1), 1 FROM generate_series(0, 9) s',
    [done],
  );
  await sql(
    'INSERT INTO evaluations (trial_id, step, val_loss, val_acc, train_loss, attempt) VALUES ($1, 5, 0.7, 0.7, 0.8, 1), ($1, 10, 0.5, 0.8, 0.6, 1)',
    [done],
  );
}

describe('a database written before v1.1, migrated', () => {
  let db: TestDatabase;
  const prefix = uniquePrefix();
  const procs: RunningProcess[] = [];
  let api: ReturnType<typeof apiClient>;
  let base: string;

  beforeAll(async () => {
    db = await createEmptyDatabase('v1db');
    const v1Dir = mkdtempSync(join(tmpdir(), 'lrsweep-v1-migrations-'));
    for (const m of readdirSync(defaultMigrationsDir).filter((m) => m <= LAST_V1_MIGRATION))
      cpSync(join(defaultMigrationsDir, m), join(v1Dir, m), { recursive: true });
    await migrate({ url: db.url, migrationsDir: v1Dir, createDatabase: false });
    rmSync(v1Dir, { recursive: true, force: true });
    await seedV1(db.url);
    const { applied } = await migrate({ url: db.url, createDatabase: false });
    expect(applied.length).toBeGreaterThan(0);
    const env = { DATABASE_URL: db.url, REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, LRSWEEP_BACKEND: 'wasm' };
    const apiProc = await startApi(env);
    procs.push(apiProc, await startWorker({ ...env, WORKER_ID: 'v1db' }));
    base = apiProc.url;
    api = apiClient(base, adminToken);
    // The API's reconciler delivers the queued v1 trial (Redis never held its job).
    await api.waitForSweep(sweepId, 120_000);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await db?.drop();
    await deletePrefix(prefix);
  });

  it('reads the sweep as a v1 sweep: built-in, pool default, selected on the test split, completed', async () => {
    const s = (await api.get(`/v1/sweeps/${sweepId}`)).body;
    expect(s).toMatchObject({
      name: 'v1-sweep',
      status: 'completed',
      runner: 'builtin',
      pool: 'default',
      selectedOn: 'test',
      counts: { total: 3, completed: 2, failed: 1, pruned: 0 },
    });
    expect(s.spec).toEqual(v1Spec);
  });

  it('keeps every trial as it was, with an unspent budget', async () => {
    const { trials } = (await api.get(`/v1/sweeps/${sweepId}/trials`)).body;
    const byId = new Map(trials.map((t: { id: string }) => [t.id, t]));
    expect(byId.get(done)).toMatchObject({
      status: 'completed',
      attempt: 1,
      failures: 0,
      failureBudget: 3,
      finalValLoss: 0.5,
      finalValAcc: 0.8,
      totalSteps: 10,
      test: {},
    });
    expect(byId.get(failed)).toMatchObject({
      status: 'failed',
      error: 'dataset: the disk went away',
      errorCode: null,
      failures: 0,
    });
    const m = (await api.get(`/v1/trials/${done}/metrics`)).body;
    expect(m.updates).toHaveLength(10);
    expect(m.evals).toEqual([
      { step: 5, valLoss: 0.7, valAcc: 0.7 },
      { step: 10, valLoss: 0.5, valAcc: 0.8 },
    ]);
  });

  it('trains the queued v1 trial as v1 would: its stored horizon, evaluated on the test split, v1 samples', async () => {
    const t = (await api.get(`/v1/trials/${queued}`)).body;
    expect(t).toMatchObject({ status: 'completed', totalSteps: 10, attempt: 1 });
    const evals = (await api.get(`/v1/trials/${queued}/metrics`)).body.evals;
    expect(evals.map((e: { step: number }) => e.step)).toEqual([5, 10]);
    // validationSize 0: the "validation" metrics are the test split's, so test_* equals the last val_*.
    expect(t.test).toEqual({ test_loss: evals[1].valLoss, test_acc: evals[1].valAcc });
    const [row] = await query<{ dataset_checksum: string }>(
      db.url,
      'SELECT dataset_checksum FROM trials WHERE id = $1',
      [queued],
    );
    // The checksum v1's code gave these samples (see packages/trainer/src/datasets.test.ts).
    expect(row!.dataset_checksum).toBe('9e7715124eef3ba85ae603f0adf693f59e7dfa2c77a1bebfc1f1a026e1395fc1');
  });

  it('ranks across its trials, selected on the test split', async () => {
    const r = (await api.get(`/v1/sweeps/${sweepId}/results`)).body;
    expect(r.selectedOn).toBe('test');
    const a = r.ranking.find((x: { configId: string }) => x.configId === 'cfg-a');
    expect(a).toMatchObject({ n: 1, seeds: 2, mean: 0.5, partial: true });
  });

  it('keeps the tokens: the v1 admin is an admin, the other a member', async () => {
    expect((await api.get('/v1/admin/tokens')).status).toBe(200);
    const member = apiClient(base, memberToken);
    expect((await member.get('/v1/admin/tokens')).status).toBe(403);
    expect((await member.get(`/v1/sweeps/${sweepId}`)).status).toBe(200);
    const roles = await query<{ name: string; role: string }>(
      db.url,
      'SELECT name, role::text AS role FROM api_tokens ORDER BY name',
    );
    expect(roles).toEqual([
      { name: 'dev', role: 'member' },
      { name: 'ops', role: 'admin' },
    ]);
  });
});
