// examples/pytorch/train.py end to end: a real PyTorch trainer (CPU) under the Python SDK, a sweep
// to a ranking, and a trial stopped (SIGTERM) mid-way that resumes from its checkpoint. PyTorch
// comes from the virtual environment `npm test` makes (.venv-torch; pip serves a CPU build here).
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lrSequence } from '@lrsweep/schedules';
import { eventually, query, requirement, type Stack, startStack } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgentProcess } from '@lrsweep/testkit';

const root = resolve(import.meta.dirname, '..');
const python = process.env.LRSWEEP_TORCH_PYTHON ?? join(root, '.venv-torch/bin/python');
const torch = requirement(
  'torch',
  existsSync(python),
  `PyTorch in ${python}: python3.11 -m venv .venv-torch && .venv-torch/bin/pip install torch (npm test does it), or set LRSWEEP_TORCH_PYTHON`,
);

describe.skipIf(torch.skip)('the PyTorch example', () => {
  let stack: Stack;
  let token: string;
  const ckpt = mkdtempSync(join(tmpdir(), 'lrsweep-torch-'));
  const procs: AgentProcess[] = [];
  const example = (env: Record<string, string> = {}) => {
    const p = startAgentProcess(python, ['examples/pytorch/train.py'], {
      LRSWEEP_API_URL: stack.api.url,
      LRSWEEP_TOKEN: token,
      CHECKPOINT_DIR: ckpt,
      IDLE_TIMEOUT: '3',
      ...env,
    });
    procs.push(p);
    return p;
  };
  /** Every example started so far has exited (an idle one would claim the next test's trials). */
  const settled = () => Promise.all(procs.map((p) => p.exited));
  /**
   * Kills the agent training `trialId` with -9 once the trial has a checkpoint marker, and starts
   * another, which waits out the dead one's lease (5 s) before the trial is its to claim. Answers
   * the marker's step and the new agent.
   */
  const killAfterMarker = async (trialId: string, agent: AgentProcess) => {
    const marker = await eventually(
      'a checkpoint marker',
      async () =>
        (
          await query<{ n: number | null }>(stack.db.url, 'SELECT checkpoint_step AS n FROM trials WHERE id = $1', [
            trialId,
          ])
        )[0]!.n,
      120_000,
      20,
    );
    agent.signal('SIGKILL');
    await agent.exited;
    return { marker, next: example({ CHECKPOINT_EVERY: '100', IDLE_TIMEOUT: '30' }) };
  };
  beforeAll(async () => {
    torch.assert();
    stack = await startStack('torch', { workers: 0, env: { AGENT_LEASE_MS: '5000', RECONCILE_INTERVAL_MS: '1000' } });
    token = (
      await stack.lrsweep.createToken({ projectId: 'default', name: 'torch', role: 'agent', pools: ['torch-cpu'] })
    ).token;
  }, 120_000);
  afterAll(async () => {
    for (const p of procs) p.signal('SIGKILL');
    await stack?.stop();
  });

  it("trains a sweep to a ranking at exactly the schedule's rates", async () => {
    const created = await stack.client.post('/v1/sweeps', {
      name: 'torch-mlp',
      runner: { kind: 'external', pool: 'torch-cpu', config: { width: 32, body_lr_mult: 0.5 } },
      training: { totalSteps: 150, evalEvery: 50 },
      grid: {
        baseLr: [0.003, 0.03],
        schedule: [{ kind: 'constant' }, { kind: 'cosine', warmup: { steps: 15 } }],
        seeds: 1,
        config: { weight_decay: [0, 0.01] },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const p = example();
    const sweep = await stack.client.waitForSweep(created.body.id, 240_000);
    expect(sweep).toMatchObject({ status: 'completed', counts: { completed: 8 } });
    expect(await p.exited).toBe(0);
    const results = (await stack.client.get(`/v1/sweeps/${created.body.id}/results`)).body;
    expect(results.ranking).toHaveLength(8);
    expect(results.ranking[0].mean).toBeLessThan(Math.log(3));
    const { trials } = (await stack.client.get(`/v1/sweeps/${created.body.id}/trials`)).body;
    for (const t of trials) {
      const rows = await query<{ lr: number }>(
        stack.db.url,
        'SELECT lr FROM update_metrics WHERE trial_id = $1 ORDER BY step',
        [t.id],
      );
      expect(rows.map((r) => r.lr)).toEqual(
        lrSequence(t.config.schedule, { baseLr: t.config.baseLr, totalSteps: 150 }).map((x) => expect.closeTo(x, 12)),
      );
      // Its parameter groups, declared by trial.scheduler on the attempt: the head at the
      // schedule's rate (the rate checked above), the body at half of it, each with its decay.
      const { attempts } = (await stack.client.get(`/v1/trials/${t.id}/attempts`)).body;
      const wd = t.config.values?.weight_decay ?? 0;
      expect(attempts[0].paramGroups).toEqual([
        { name: 'head', lrMultiplier: 1, weightDecay: wd },
        { name: 'body', lrMultiplier: 0.5, weightDecay: wd },
      ]);
    }
  }, 300_000);

  it('resumes a stopped trial from its checkpoint', async () => {
    const created = await stack.client.post('/v1/sweeps', {
      name: 'torch-resume',
      runner: { kind: 'external', pool: 'torch-cpu', config: { width: 256, batch_size: 256 } },
      training: { totalSteps: 3000, evalEvery: 500 },
      grid: { baseLr: [0.003], schedule: [{ kind: 'cosine' }], seeds: 1 },
    });
    const [trial] = (await stack.client.get(`/v1/sweeps/${created.body.id}/trials`)).body.trials;
    const first = example({ CHECKPOINT_EVERY: '100' });
    await eventually(
      'a checkpoint marker',
      async () =>
        (
          await query<{ n: number | null }>(stack.db.url, 'SELECT checkpoint_step AS n FROM trials WHERE id = $1', [
            trial.id,
          ])
        )[0]!.n,
      120_000,
      100,
    );
    first.signal('SIGTERM');
    expect(await first.exited).toBe(0);
    const second = example({ CHECKPOINT_EVERY: '100' });
    await stack.client.waitForSweep(created.body.id, 240_000);
    const line = await second.waitFor((l) => l.startsWith(`trial ${trial.id}`));
    expect(Number(/from update (\d+)/.exec(line)![1])).toBeGreaterThan(0);
    const t = (await stack.client.get(`/v1/trials/${trial.id}`)).body;
    expect(t).toMatchObject({ status: 'completed', attempt: 2, failures: 0 });
    const steps = await query<{ step: number }>(
      stack.db.url,
      'SELECT step FROM update_metrics WHERE trial_id = $1 ORDER BY step',
      [trial.id],
    );
    expect(steps.map((s) => s.step)).toEqual([...Array(3000).keys()]);
  }, 300_000);

  it('forks a horizon axis from the trunk through a kill -9 of its agent; the fork equals its independent run', async () => {
    // WSD, 20% of the rest decaying: the 1 500-update horizon forks from the 3 000-update trunk at
    // its own decay start (update 1 201, after 1 201 updates), where the rates still agree.
    await settled();
    const wsd = { kind: 'wsd', decayFraction: 0.2, decayShape: 'linear', warmup: { steps: 1 } };
    const sweepOf = (name: string, horizon: number[]) => ({
      name,
      runner: { kind: 'external', pool: 'torch-cpu', config: { width: 256, batch_size: 256 } },
      training: { evalEvery: 500 },
      grid: { horizon, baseLr: [0.003], schedule: [wsd], seeds: 1 },
    });
    const both = await stack.client.post('/v1/sweeps/validate', {
      ...sweepOf('x', [1500, 3000]),
      training: { evalEvery: 500, totalSteps: 1500 },
    });
    expect(both.body.issues.map((i: { path: string }) => i.path)).toContain('training.totalSteps');
    const created = await stack.client.post('/v1/sweeps', sweepOf('torch-forks', [1500, 3000]));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.forks ?? (await stack.client.get(`/v1/sweeps/${created.body.id}`)).body.forks).toMatchObject({
      trunks: 1,
      forks: 1,
    });
    const rowsOf = (id: string) =>
      query<{ id: string; total_steps: number; fork_step: number | null; status: string; attempt: number }>(
        stack.db.url,
        'SELECT id, total_steps, fork_step, status::text AS status, attempt FROM trials WHERE sweep_id = $1 ORDER BY total_steps',
        [id],
      );
    const [fork, trunk] = await rowsOf(created.body.id);
    const F = fork!.fork_step!;
    expect(F).toBeGreaterThan(100);

    // The trunk's agent dies (-9) after its first checkpoint marker, before the fork point.
    const { next: second } = await killAfterMarker(trunk!.id, example({ CHECKPOINT_EVERY: '100' }));
    const sweep = await stack.client.waitForSweep(created.body.id, 240_000);
    expect(sweep).toMatchObject({ status: 'completed', counts: { completed: 2 } });
    const after = await rowsOf(created.body.id);
    expect(after.map((t) => [t.total_steps, t.status, t.fork_step])).toEqual([
      [1500, 'completed', F],
      [3000, 'completed', null],
    ]);
    // The trunk resumed from its marker; the fork started at its fork point, from the trunk's file.
    expect(after[1]!.attempt).toBe(2);
    const line = await second.waitFor((l) => l.startsWith(`trial ${fork!.id}`));
    expect(line).toContain(`from update ${F}`);
    // Idle now (its sweep is done): gone, so that the run below is the third agent's.
    second.signal('SIGKILL');
    await second.exited;

    // Each series: updates 0 … T−1 once each, every rate its own horizon's schedule.
    const series = (id: string) =>
      query<{ step: number; lr: number; train_loss: number; attempt: number }>(
        stack.db.url,
        'SELECT step, lr, train_loss, attempt FROM update_metrics WHERE trial_id = $1 ORDER BY step',
        [id],
      );
    for (const t of after) {
      const rows = await series(t.id);
      expect(rows.map((r) => r.step)).toEqual([...Array(t.total_steps).keys()]);
      const want = lrSequence(wsd as never, { baseLr: 0.003, totalSteps: t.total_steps });
      expect(rows.map((r) => r.lr)).toEqual(want.map((x) => expect.closeTo(x, 12)));
    }
    // The fork's rows before F are the trunk's (attempt 0: copied at the handoff); its own after.
    const forkRows = await series(fork!.id);
    expect(new Set(forkRows.slice(0, F).map((r) => r.attempt))).toEqual(new Set([0]));
    expect(new Set(forkRows.slice(F).map((r) => r.attempt))).toEqual(new Set([1]));

    // The same horizon alone (no trunk to fork from): the fork's series, loss for loss.
    const alone = await stack.client.post('/v1/sweeps', sweepOf('torch-alone', [1500]));
    expect(alone.status).toBe(201);
    const third = example({ CHECKPOINT_EVERY: '100' });
    await stack.client.waitForSweep(alone.body.id, 240_000);
    await third.exited;
    const [independent] = await rowsOf(alone.body.id);
    expect(independent!.fork_step).toBeNull();
    const aloneRows = await series(independent!.id);
    expect(forkRows.map((r) => r.train_loss)).toEqual(aloneRows.map((r) => r.train_loss));
  }, 400_000);

  it('runs an LR range test to its answer, through a kill -9 mid-ramp: no gap, no duplicate, every rate exact', async () => {
    await settled();
    const steps = 3000;
    const created = await stack.client.post('/v1/sweeps', {
      name: 'torch-range',
      runner: { kind: 'external', pool: 'torch-cpu', config: { width: 256, batch_size: 256 } },
      training: { evalEvery: 500 },
      grid: { seeds: 1 },
      search: { kind: 'range_test', minLr: 1e-4, maxLr: 100, steps },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const [trial] = (await stack.client.get(`/v1/sweeps/${created.body.id}/trials`)).body.trials;
    const { marker: checkpointStep, next: second } = await killAfterMarker(
      trial.id,
      example({ CHECKPOINT_EVERY: '100' }),
    );
    const sweep = await stack.client.waitForSweep(created.body.id, 240_000);
    expect(sweep).toMatchObject({ status: 'completed', counts: { completed: 1 } });
    const line = await second.waitFor((l) => l.startsWith(`trial ${trial.id}`));
    expect(Number(/from update (\d+)/.exec(line)![1])).toBeGreaterThan(0);
    second.signal('SIGKILL'); // idle: its sweep is done

    // The ramp ended where the loss diverged (over 10× the first update's, or NaN): completed, once.
    const t = (await stack.client.get(`/v1/trials/${trial.id}`)).body;
    expect(t).toMatchObject({ status: 'completed', attempt: 2 });
    const k = t.divergedAtStep as number;
    expect(k).toBeGreaterThan(checkpointStep);
    expect(k).toBeLessThan(steps - 1);
    const attempts = await query<{ attempt: number; outcome: string | null }>(
      stack.db.url,
      'SELECT attempt, outcome FROM trial_attempts WHERE trial_id = $1 ORDER BY attempt',
      [trial.id],
    );
    expect(attempts.filter((a) => a.outcome === 'completed').map((a) => a.attempt)).toEqual([2]);

    // Updates 0 … k, each once; past the checkpoint only the resumed attempt's; every rate the ramp's.
    const rows = await query<{ step: number; lr: number; attempt: number }>(
      stack.db.url,
      'SELECT step, lr, attempt FROM update_metrics WHERE trial_id = $1 ORDER BY step',
      [trial.id],
    );
    expect(rows.map((r) => r.step)).toEqual([...Array(k + 1).keys()]);
    expect(rows.filter((r) => r.step > checkpointStep && r.attempt !== 2)).toEqual([]);
    const ramp = lrSequence(t.config.schedule, { baseLr: t.config.baseLr, totalSteps: steps });
    expect(t.config.schedule).toEqual({ kind: 'lr_range', startFactor: 1e-6 });
    expect(rows.map((r) => r.lr)).toEqual(ramp.slice(0, k + 1).map((x) => expect.closeTo(x, 12)));

    // Its answer: the loss against the rate, cut at divergence, and the base LRs it suggests.
    const answer = (await stack.client.get(`/v1/sweeps/${created.body.id}/range-test`)).body;
    expect(answer).toMatchObject({ provisional: false, seeds: 1 });
    // Its curve holds the rates trained, up to the diverged update's, and no further.
    expect(answer.points.length).toBeGreaterThan(0);
    expect(Math.max(...answer.points.map((p: { lr: number }) => p.lr))).toBeLessThanOrEqual(ramp[k]!);
    expect(answer.divergedAtLr).toBeLessThanOrEqual(ramp[k]!);
    expect(answer.suggested.baseLr.length).toBeGreaterThan(0);
    for (const lr of answer.suggested.baseLr) expect(lr).toBeLessThan(ramp[k]!);
  }, 300_000);
  it('runs an annealed-ASHA sweep through a kill -9: rungs judged off the series, no gap, no duplicate, every rate exact', async () => {
    await settled();
    // 4 configurations, rungs at 300 and 600 updates (η = 2), T = 1 200: the best 2, then the best 1, go on.
    const T = 1200;
    const schedules = [{ kind: 'constant' }, { kind: 'cosine' }];
    const created = await stack.client.post('/v1/sweeps', {
      name: 'torch-asha',
      runner: { kind: 'external', pool: 'torch-cpu', config: { width: 256, batch_size: 256 } },
      training: { evalEvery: 300 },
      grid: { baseLr: [0.0003, 0.003], schedule: schedules, seeds: 1 },
      search: { kind: 'asha', minBudget: 300, maxBudget: T, reduction: 2 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const sweepId = created.body.id as string;
    const first = example({ CHECKPOINT_EVERY: '100' });
    // The agent dies (-9) in the middle of the first trial it trains, past a marker, before its rung.
    const victim = await eventually(
      'a trial past its first marker',
      async () =>
        (
          await query<{ id: string; checkpoint_step: number; attempt: number }>(
            stack.db.url,
            "SELECT id, checkpoint_step, attempt FROM trials WHERE sweep_id = $1 AND status = 'running' AND checkpoint_step IS NOT NULL",
            [sweepId],
          )
        )[0],
      120_000,
      20,
    );
    first.signal('SIGKILL');
    await first.exited;
    // Where the dead attempt's last marker left it (it may have reported one more before the kill).
    const [{ resume }] = (await query<{ resume: number }>(
      stack.db.url,
      'SELECT checkpoint_step AS resume FROM trials WHERE id = $1',
      [victim.id],
    )) as [{ resume: number }];
    expect(resume).toBeGreaterThan(0);
    const second = example({ CHECKPOINT_EVERY: '100', IDLE_TIMEOUT: '30' });
    const sweep = await stack.client.waitForSweep(sweepId, 240_000).catch((err: Error) => {
      throw new Error(
        `${err.message}\nfirst agent:\n${first.lines.slice(-20).join('\n')}\nsecond agent:\n${second.lines.slice(-20).join('\n')}`,
      );
    });
    expect(sweep).toMatchObject({ status: 'completed', counts: { completed: 1, pruned: 3, failed: 0 } });
    second.signal('SIGKILL'); // idle: its sweep is done

    const trials = await query<{
      id: string;
      status: string;
      pruned_rung: number | null;
      config: { schedule: { kind: string }; baseLr: number };
    }>(stack.db.url, 'SELECT id, status::text AS status, pruned_rung, config FROM trials WHERE sweep_id = $1', [
      sweepId,
    ]);
    const rungs = await query<{
      trial_id: string;
      rung: number;
      step: number;
      value: number | null;
      cooldown_steps: number;
    }>(
      stack.db.url,
      'SELECT r.trial_id, r.rung, r.step, r.value, r.cooldown_steps FROM rung_results r JOIN trials t ON t.id = r.trial_id WHERE t.sweep_id = $1',
      [sweepId],
    );
    // Judged by the annealed estimate: 15% of each rung's budget of cooldown, a finite value each.
    expect(new Set(rungs.map((r) => `${r.rung}:${r.step}:${r.cooldown_steps}`))).toEqual(
      new Set(['0:300:45', '1:600:90']),
    );
    expect(rungs.filter((r) => r.rung === 0)).toHaveLength(4);
    expect(rungs.filter((r) => r.rung === 1)).toHaveLength(2);
    for (const r of rungs) expect(Number.isFinite(r.value)).toBe(true);
    // The decisions: the best 2 of 4 at rung 0 reach rung 1, the better of those the horizon.
    const at0 = rungs.filter((r) => r.rung === 0).sort((a, b) => a.value! - b.value!);
    const at1 = rungs.filter((r) => r.rung === 1).sort((a, b) => a.value! - b.value!);
    expect(at1.map((r) => r.trial_id).sort()).toEqual(
      at0
        .slice(0, 2)
        .map((r) => r.trial_id)
        .sort(),
    );
    expect(trials.find((t) => t.status === 'completed')!.id).toBe(at1[0]!.trial_id);

    for (const t of trials) {
      const expected = t.status === 'completed' ? T : [300, 600][t.pruned_rung!]!;
      const rows = await query<{ step: number; lr: number; attempt: number }>(
        stack.db.url,
        'SELECT step, lr, attempt FROM update_metrics WHERE trial_id = $1 ORDER BY step',
        [t.id],
      );
      // Updates 0 … budget − 1 once each (the cooldowns are not among them), every rate the schedule's.
      expect(rows.map((r) => r.step)).toEqual([...Array(expected).keys()]);
      const want = lrSequence(t.config.schedule as never, { baseLr: t.config.baseLr, totalSteps: T });
      expect(rows.map((r) => r.lr)).toEqual(want.slice(0, expected).map((x) => expect.closeTo(x, 12)));
      // A promoted trial went on from its rung's checkpoint in a new attempt: the rows after each rung are its.
      for (const budget of [300, 600].filter((b) => b < expected)) {
        const before = Math.max(...rows.filter((r) => r.step < budget).map((r) => r.attempt));
        expect(Math.min(...rows.filter((r) => r.step >= budget).map((r) => r.attempt))).toBeGreaterThan(before);
      }
      const completions = await query<{ n: number }>(
        stack.db.url,
        "SELECT count(*)::int AS n FROM trial_attempts WHERE trial_id = $1 AND outcome = 'completed'",
        [t.id],
      );
      expect(completions[0]!.n).toBe(t.status === 'completed' ? 1 : 0);
    }
    // The killed trial resumed at its marker, and the dead attempt's rows past it did not survive.
    const line = await second.waitFor((l) => l.startsWith(`trial ${victim.id} (attempt ${victim.attempt + 1})`));
    expect(line).toContain(`from update ${resume}`);
    const killed = await query<{ step: number; attempt: number }>(
      stack.db.url,
      'SELECT step, attempt FROM update_metrics WHERE trial_id = $1 AND step >= $2 ORDER BY step',
      [victim.id, resume],
    );
    expect(killed.length).toBeGreaterThan(0);
    expect(killed.filter((r) => r.attempt <= victim.attempt)).toEqual([]);
    // The ranking has the configuration that reached the horizon; the others are pruned at their rung.
    const results = (await stack.client.get(`/v1/sweeps/${sweepId}/results`)).body;
    expect(results.ranking).toHaveLength(1);
    expect(results.pruned).toHaveLength(3);
  }, 400_000);
});
