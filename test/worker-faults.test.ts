// Workers die: kill -9 after a checkpoint, and SIGTERM mid-trial. The trial is finished by another
// worker, resumed from its checkpoint, with a gap-free, duplicate-free series equal to that of an
// uninterrupted run of the same seed on the same backend.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  query,
  type TestDatabase,
  apiClient,
  type RunningProcess,
  startApi,
  startWorker,
  deletePrefix,
  uniquePrefix,
  bootstrapToken,
  eventually,
  faultTestEnv,
  trialSeries,
  tinySpec,
} from '@lrsweep/testkit';

const spec = (name: string) =>
  tinySpec({
    name,
    // 2 000 samples train, 200 more validate.
    dataset: { trainSize: 2200, validationSize: 200, testSize: 300 },
    model: { hidden: [256] },
    optimizer: { kind: 'adam' },
    training: { epochs: 3, batchSize: 20, evalEvery: 25 },
    grid: { baseLr: [0.001], schedule: [{ kind: 'cosine', warmup: { steps: 20 } }], seeds: [7] },
  });
const T = 300;

describe('worker faults', () => {
  let db: TestDatabase;
  const prefix = uniquePrefix();
  const checkpointDir = mkdtempSync(join(tmpdir(), 'lrsweep-ckpt-'));
  const procs: RunningProcess[] = [];
  /** Workers a test started: stopped after it, so a failed test leaves none to take the next test's trial. */
  const testWorkers: RunningProcess[] = [];
  let api: ReturnType<typeof apiClient>;
  let env: Record<string, string>;
  let reference: Awaited<ReturnType<typeof trialSeries>>;

  const worker = async (id: string, extra: Record<string, string> = {}) => {
    const w = await startWorker({ ...env, WORKER_ID: id, ...extra });
    procs.push(w);
    testWorkers.push(w);
    return w;
  };
  const submit = async (name: string) => {
    const created = await api.post('/v1/sweeps', spec(name));
    expect(created.status).toBe(201);
    const [trial] = (await api.get(`/v1/sweeps/${created.body.id}/trials`)).body.trials;
    return { sweepId: created.body.id as string, trialId: trial.id as string };
  };

  beforeAll(async () => {
    db = await createTestDatabase('wfault');
    // Leases of 5 s (not the fault tests' usual 3 s): the successors here train while CI runs other
    // files beside them, and a stall past a short lease adds an attempt the assertions count.
    env = faultTestEnv({ databaseUrl: db.url, prefix, checkpointDir }, { LEASE_MS: '5000', LOCK_DURATION_MS: '5000' });
    const a = await startApi(env);
    procs.push(a);
    api = apiClient(a.url, bootstrapToken);
    // The uninterrupted run every interrupted one must equal.
    const w = await worker('reference');
    const ref = await submit('reference');
    await api.waitForSweep(ref.sweepId);
    reference = await trialSeries(db.url, ref.trialId);
    expect(reference.trial).toMatchObject({ status: 'completed', attempt: 1 });
    expect(reference.updates).toHaveLength(T);
    await w.stop();
    testWorkers.length = 0;
  });
  afterEach(async () => {
    await Promise.all(testWorkers.splice(0).map((w) => w.stop('SIGKILL')));
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await db?.drop();
    await deletePrefix(prefix);
    rmSync(checkpointDir, { recursive: true, force: true });
  });

  const expectSameAsReference = (s: Awaited<ReturnType<typeof trialSeries>>) => {
    expect(s.updates.map((u) => u.step)).toEqual([...Array(T).keys()]);
    expect(s.updates.map(({ step, lr, train_loss }) => ({ step, lr, train_loss }))).toEqual(
      reference.updates.map(({ step, lr, train_loss }) => ({ step, lr, train_loss })),
    );
    expect(s.evals.map(({ step, val_loss, val_acc }) => ({ step, val_loss, val_acc }))).toEqual(
      reference.evals.map(({ step, val_loss, val_acc }) => ({ step, val_loss, val_acc })),
    );
    const { status, final_val_loss, final_val_acc, best_val_loss, final_train_loss } = s.trial;
    expect({ status, final_val_loss, final_val_acc, best_val_loss, final_train_loss }).toEqual({
      status: 'completed',
      final_val_loss: reference.trial.final_val_loss,
      final_val_acc: reference.trial.final_val_acc,
      best_val_loss: reference.trial.best_val_loss,
      final_train_loss: reference.trial.final_train_loss,
    });
  };

  it('kill -9 after a checkpoint: another worker resumes it (attempt 2) and the series equals an uninterrupted run', async () => {
    const victim = await worker('victim');
    const { sweepId, trialId } = await submit('killed');
    const ckpt = await eventually('a checkpoint', async () => {
      const [t] = await query<{ checkpoint_step: number | null }>(
        db.url,
        'SELECT checkpoint_step FROM trials WHERE id = $1',
        [trialId],
      );
      return t!.checkpoint_step !== null && t!.checkpoint_step >= 40 ? t!.checkpoint_step : null;
    });
    victim.proc.kill('SIGKILL');
    const rescuer = await worker('rescuer');
    await api.waitForSweep(sweepId, 120_000);
    const s = await trialSeries(db.url, trialId);
    expect(s.trial.attempt).toBe(2);
    // The lost attempt spent one failure of the trial's budget.
    expect(s.trial).toMatchObject({ status: 'completed', failures: 1 });
    expectSameAsReference(s);
    const finished = await rescuer.waitFor((l) => l.msg === 'trial finished' && l.trialId === trialId);
    expect(finished.resumedFrom).toBeGreaterThanOrEqual(ckpt);
    expect(Number(finished.resumedFrom)).toBeGreaterThan(0);
    // Rows before the checkpoint came from attempt 1, the rest were written (or rewritten) by attempt 2.
    expect(s.updates.slice(Number(finished.resumedFrom)).every((u) => u.attempt === 2)).toBe(true);
    expect(s.updates.slice(0, ckpt).every((u) => u.attempt === 1)).toBe(true);
    await rescuer.stop();
  });

  it('SIGTERM mid-trial: the worker checkpoints, releases and exits within a spot node’s 15 s by default; another finishes it', async () => {
    // The default SHUTDOWN_TIMEOUT_MS (12 s), as on a spot node: GKE gives pods 15 s of its 30.
    const leaving = await worker('leaving', { CHECKPOINT_EVERY: '100000' });
    const { sweepId, trialId } = await submit('terminated');
    await eventually('training under way', async () => {
      const [r] = await query<{ n: number }>(
        db.url,
        'SELECT count(*)::int AS n FROM update_metrics WHERE trial_id = $1',
        [trialId],
      );
      return r!.n >= 30;
    });
    const t0 = Date.now();
    const code = await leaving.stop('SIGTERM');
    const exitMs = Date.now() - t0;
    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(15_000);
    const released = leaving.lines.find((l) => l.msg === 'trial checkpointed and released for another worker');
    expect(released?.step).toBeGreaterThan(0);
    const [t] = await query<{ status: string; checkpoint_step: number }>(
      db.url,
      'SELECT status, checkpoint_step FROM trials WHERE id = $1',
      [trialId],
    );
    expect(t).toEqual({ status: 'queued', checkpoint_step: released!.step });

    const successor = await worker('successor');
    await api.waitForSweep(sweepId, 120_000);
    const s = await trialSeries(db.url, trialId);
    expectSameAsReference(s);
    // A release spends nothing of the trial's failure budget.
    expect(s.trial).toMatchObject({ status: 'completed', attempt: 2, failures: 0 });
    const finished = await successor.waitFor((l) => l.msg === 'trial finished' && l.trialId === trialId);
    expect(finished.resumedFrom).toBe(released!.step);
    // A release is not a failure: the job was handed over, not retried.
    const failures = leaving.lines.filter((l) => l.msg === 'delivery failed');
    expect(failures).toEqual([]);
    await successor.stop();
  });

  it('a trial whose trainer process dies every time fails after its budget, with the last reason', async () => {
    // Fault injection: this worker's training thread exits at update 5 of every trial, and its
    // trainer process with it.
    const crashing = await worker('crashing', { LRSWEEP_FAULT_THREAD_EXIT_AT_STEP: '5' });
    const { sweepId, trialId } = await submit('crashing');
    const sweep = await api.waitForSweep(sweepId, 90_000);
    expect(sweep).toMatchObject({ status: 'failed', counts: { failed: 1 } });
    const t = (await api.get(`/v1/trials/${trialId}`)).body;
    expect(t).toMatchObject({
      status: 'failed',
      attempt: 3,
      failures: 3,
      failureBudget: 3,
      errorCode: 'WORKER_CRASHED',
    });
    expect(t.error).toBe(
      'failed after 3 failed attempts; the last: the training process (wasm backend) exited with code 70',
    );
    // Each attempt ran in a fresh trainer process and was retried by the policy, not redelivered by BullMQ.
    expect(crashing.lines.filter((l) => l.msg === 'delivery failed')).toEqual([]);
    await crashing.stop();
  });
});
