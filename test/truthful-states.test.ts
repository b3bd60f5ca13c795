// States that tell the truth, against the real API, worker, Postgres and Redis: a failed sweep
// carries why, divergence is caught by default, a deleted sweep leaves nothing behind (a running
// trial included), and the API refuses to start without Postgres.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { ApiRequestError } from '@lrsweep/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapToken, query, redisUrl, type Stack, startStack, tinySpec } from '@lrsweep/testkit';

const tiny = { name: 'mnist', trainSize: 256, testSize: 64 } as const;

describe('truthful states', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('truthful', { workers: 1 });
  }, 120_000);
  afterAll(async () => stack?.stop());

  it('a failed sweep carries a summary of why its trials failed', async () => {
    const created = await stack.lrsweep.submitSweep({
      name: 'no-data',
      dataset: { name: 'cifar10', path: 'nowhere/cifar', trainSize: 64, testSize: 16 },
      model: { kind: 'cnn', channels: [4] },
      training: { epochs: 1, batchSize: 32, evalEvery: 2 },
      grid: { baseLr: [0.01, 0.1], schedule: [{ kind: 'constant' }], seeds: 1 },
    });
    await stack.lrsweep.follow(created.id, () => {}, 200);
    const sweep = await stack.lrsweep.getSweep(created.id);
    expect(sweep.status).toBe('failed');
    // This worker has no DATA_ROOT at all: a fault of the worker, retried within its budget, then
    // summarized once for both trials with the reason a person can act on.
    expect(sweep.failures).toEqual([
      {
        code: 'INFRASTRUCTURE',
        message: expect.stringContaining("DATA_ROOT does not exist (it was to hold dataset path 'nowhere/cifar')"),
        count: 2,
      },
    ]);
    // Each attempt is on record: who ran it, how it ended, why.
    const [t] = (await stack.lrsweep.listTrials(created.id)).trials;
    const { attempts } = await stack.lrsweep.trialAttempts(t!.id);
    expect(attempts.map((x) => x.attempt)).toEqual(Array.from({ length: t!.attempt }, (_, i) => i + 1));
    expect(attempts.map((x) => x.outcome)).toEqual([...Array(t!.attempt - 1).fill('requeued'), 'failed']);
    for (const x of attempts) {
      expect(x).toMatchObject({ workerId: 'truthful-1', error: expect.stringContaining('DATA_ROOT does not exist') });
      expect(Date.parse(x.endedAt!)).toBeGreaterThanOrEqual(Date.parse(x.startedAt));
    }
  }, 90_000);

  it('divergence is caught by default: Adam at LR 30 on MNIST diverges, it does not complete', async () => {
    const created = await stack.lrsweep.submitSweep({
      name: 'adam-30',
      dataset: tiny,
      model: { kind: 'mlp', hidden: [32] },
      optimizer: { kind: 'adam' },
      training: { epochs: 1, batchSize: 32, evalEvery: 4 },
      grid: { baseLr: [30], schedule: [{ kind: 'constant' }], seeds: 1 },
    });
    await stack.lrsweep.follow(created.id, () => {}, 200);
    const [trial] = (await stack.lrsweep.listTrials(created.id)).trials;
    expect(trial).toMatchObject({ status: 'diverged' });
    expect(trial!.divergedAtStep).toBeGreaterThanOrEqual(1);
    expect((await stack.lrsweep.getSweep(created.id)).counts.diverged).toBe(1);
    // Off when asked: the same run then completes (NaN/Inf would still count).
    const off = await stack.lrsweep.submitSweep({
      name: 'adam-30-off',
      dataset: tiny,
      model: { kind: 'mlp', hidden: [32] },
      optimizer: { kind: 'adam' },
      training: { epochs: 1, batchSize: 32, evalEvery: 4, divergenceFactor: false },
      grid: { baseLr: [30], schedule: [{ kind: 'constant' }], seeds: 1 },
    });
    await stack.lrsweep.follow(off.id, () => {}, 200);
    const [loose] = (await stack.lrsweep.listTrials(off.id)).trials;
    // Without the factor the loss stays finite but huge: the trial is only caught if it overflows.
    expect(['completed', 'diverged']).toContain(loose!.status);
    if (loose!.status === 'diverged') {
      const [row] = await query<{ train_loss: number | null }>(
        stack.db.url,
        `SELECT train_loss FROM update_metrics WHERE trial_id = $1 AND step = $2`,
        [loose!.id, loose!.divergedAtStep],
      );
      expect(row?.train_loss == null || !Number.isFinite(row.train_loss)).toBe(true);
    }
  }, 90_000);

  it('deleting a sweep removes its trials and metrics, and fences a running trial', async () => {
    const created = await stack.lrsweep.submitSweep(
      tinySpec({
        name: 'to-delete',
        dataset: { trainSize: 2000, testSize: 64 },
        model: { hidden: [64] },
        training: { epochs: 30, batchSize: 16, evalEvery: 50 },
        grid: { baseLr: [0.01, 0.02] },
      }) as never,
    );
    // Wait until a trial is running and has written rows.
    const deadline = Date.now() + 60_000;
    let running: { id: string } | undefined;
    while (Date.now() < deadline) {
      [running] = await query<{ id: string }>(
        stack.db.url,
        `SELECT t.id FROM trials t WHERE t.sweep_id = $1 AND t.status = 'running' AND EXISTS (SELECT 1 FROM update_metrics u WHERE u.trial_id = t.id)`,
        [created.id],
      );
      if (running) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(running, 'a trial started').toBeDefined();
    const answer = await stack.lrsweep.deleteSweep(created.id);
    expect(answer).toEqual({ deleted: true, id: created.id, trials: 2 });
    await expect(stack.lrsweep.getSweep(created.id)).rejects.toMatchObject({ status: 404 });
    // The running trial's worker is fenced: no row of the sweep reappears, and the worker stops it.
    await stack.workers[0]!.waitFor(
      (l) => l.trialId === running!.id && /fenced|lost|stopp|cancel/i.test(String(l.msg)),
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const left = await query<{ n: number }>(
      stack.db.url,
      `SELECT (SELECT count(*) FROM trials WHERE sweep_id = $1)::int + (SELECT count(*) FROM update_metrics WHERE trial_id = $2)::int
            + (SELECT count(*) FROM evaluations WHERE trial_id = $2)::int + (SELECT count(*) FROM sweeps WHERE id = $1)::int AS n`,
      [created.id, running!.id],
    );
    expect(left[0]!.n).toBe(0);
    // Deleting again is a 404, not a 500; another project's token cannot delete.
    const again = await stack.lrsweep.deleteSweep(created.id).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ApiRequestError);
    expect((again as ApiRequestError).status).toBe(404);
    // The worker is free again: a new sweep runs to completion.
    const next = await stack.lrsweep.submitSweep({
      name: 'after-delete',
      dataset: tiny,
      model: { kind: 'mlp', hidden: [16] },
      training: { epochs: 1, batchSize: 64, evalEvery: 2 },
      grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], seeds: 1 },
    });
    await stack.lrsweep.follow(next.id, () => {}, 200);
    expect((await stack.lrsweep.getSweep(next.id)).status).toBe('completed');
    const [done] = (await stack.lrsweep.listTrials(next.id)).trials;
    expect((await stack.lrsweep.trialAttempts(done!.id)).attempts).toEqual([
      {
        attempt: 1,
        workerId: 'truthful-1',
        agentId: null,
        backend: done!.backend,
        startedAt: done!.startedAt,
        endedAt: expect.any(String),
        outcome: 'completed',
        error: null,
        errorCode: null,
        // A built-in worker's attempt declares no parameter groups (agents' trainers do).
        paramGroups: null,
      },
    ]);
    expect(done!.backend).toMatch(/wasm|tensorflow|cpu/);
  }, 150_000);
});

describe('an API without Postgres', () => {
  it('refuses to start, in one line naming DATABASE_URL', async () => {
    const root = resolve(import.meta.dirname, '..');
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const proc = spawn(process.execPath, ['--import', tsx, resolve(root, 'apps/api/src/main.ts')], {
      cwd: resolve(root, 'apps/api'),
      // Port 9 (discard) is closed here: the connection is refused at once.
      env: {
        ...process.env,
        DATABASE_URL: 'postgresql://lrsweep:secret@127.0.0.1:9/lrsweep',
        REDIS_URL: redisUrl,
        LRSWEEP_BOOTSTRAP_TOKEN: bootstrapToken,
        PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r, rej) => {
      const t = setTimeout(() => (proc.kill('SIGKILL'), rej(new Error(`still running after 30 s:\n${out}`))), 30_000);
      proc.on('exit', (c) => (clearTimeout(t), r(c)));
    });
    expect(code).toBe(1);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('DATABASE_URL=postgresql://lrsweep:***@127.0.0.1:9/lrsweep');
    expect(lines[0]).not.toContain('secret');
  }, 40_000);
});
