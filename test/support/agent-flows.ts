// The agent protocol's guarantees, as one set of flows any SDK must pass (Python on 3.9 and 3.11,
// TypeScript): through the real API, Postgres and Redis, with a deterministic logistic
// regression trainer of the user's own (test/fixtures/agents).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lrSequence } from '@lrsweep/schedules';
import { apiClient, eventually, query, requirement, type Stack, startStack } from '@lrsweep/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentProcess } from '@lrsweep/testkit';

export type StartTrainer = (env: Record<string, string>) => AgentProcess;

const T = 60;
const spec = (name: string, pool: string, over: Record<string, unknown> = {}) => ({
  name,
  runner: { kind: 'external', pool, config: { features: 6 } },
  training: { totalSteps: T, evalEvery: 20 },
  grid: {
    baseLr: [0.05, 0.3],
    schedule: [
      { kind: 'constant' },
      { kind: 'cosine', warmup: { steps: 5 } },
      { kind: 'reduce_on_plateau', patience: 0, factor: 0.5 },
    ],
    seeds: 2,
    config: { weightDecay: [0, 0.01] },
  },
  objective: { metric: 'val_loss', mode: 'min' },
  ...over,
});
const one = (name: string, pool: string, schedule: object = { kind: 'cosine', warmup: { steps: 5 } }) =>
  spec(name, pool, { grid: { baseLr: [0.1], schedule: [schedule], seeds: [3] } });

/** A trial's stored series: every update and evaluation row, in step order. */
async function series(url: string, trialId: string) {
  const updates = await query<{ step: number; lr: number; train_loss: number; attempt: number }>(
    url,
    'SELECT step, lr, train_loss, attempt FROM update_metrics WHERE trial_id = $1 ORDER BY step',
    [trialId],
  );
  const evals = await query<{ step: number; val_loss: number; val_acc: number; metrics: unknown }>(
    url,
    'SELECT step, val_loss, val_acc, metrics FROM evaluations WHERE trial_id = $1 ORDER BY step',
    [trialId],
  );
  return { updates, evals };
}

/** The flows for one SDK; `need` names what must be installed for it (a missing one fails, unless LRSWEEP_SKIP names it). */
export function describeAgentFlows(
  label: string,
  startTrainer: StartTrainer | null,
  need: { name: string; how: string },
) {
  const needed = requirement(need.name, startTrainer !== null, need.how);
  describe.skipIf(needed.skip)(`agents: ${label}`, () => {
    let stack: Stack;
    let token: string;
    const pool = `logreg-${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}`;
    const ckpt = mkdtempSync(join(tmpdir(), 'lrsweep-agent-ckpt-'));
    const running: AgentProcess[] = [];
    const trainer = (env: Record<string, string> = {}) => {
      const p = startTrainer!({
        LRSWEEP_API_URL: `${stack.api.url}/v1`,
        LRSWEEP_TOKEN: token,
        LOGREG_POOL: pool,
        LOGREG_CKPT_DIR: ckpt,
        LOGREG_IDLE: '3',
        ...env,
      });
      running.push(p);
      return p;
    };
    const submit = async (body: object) => {
      const r = await stack.client.post('/v1/sweeps', body);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      const trials = (await stack.client.get(`/v1/sweeps/${r.body.id}/trials?limit=100`)).body.trials as {
        id: string;
      }[];
      return { sweepId: r.body.id as string, trialIds: trials.map((t) => t.id) };
    };
    const trialOf = async (id: string) => (await stack.client.get(`/v1/trials/${id}`)).body;

    beforeAll(async () => {
      needed.assert();
      stack = await startStack(`agents-${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}`, {
        workers: 0,
        env: {
          AGENT_LEASE_MS: '2000',
          AGENT_HEARTBEAT_MS: '1000',
          AGENT_STALL_MS: '4000',
          RECONCILE_INTERVAL_MS: '700',
        },
      });
      token = (
        await stack.lrsweep.createToken({ projectId: 'default', name: `agent-${label}`, role: 'agent', pools: [pool] })
      ).token;
    }, 120_000);
    // No trainer of one test may take the next test's trial: each ends (idle) before the next starts.
    afterEach(async () => {
      await Promise.all(
        running
          .splice(0)
          .map((p) =>
            Promise.race([p.exited, new Promise((r) => setTimeout(r, 15_000)).then(() => p.signal('SIGKILL'))]),
          ),
      );
    });
    afterAll(async () => {
      for (const p of running) p.signal('SIGKILL');
      await stack?.stop();
    });

    it("runs a sweep to a ranking, with the trainer's own axes, test metrics and the schedule lrsweep computes", async () => {
      const { sweepId, trialIds } = await submit(spec('agents-sweep', pool));
      expect(trialIds).toHaveLength(24);
      const [a, b] = [trainer({ LOGREG_NAME: 'a' }), trainer({ LOGREG_NAME: 'b' })];
      const sweep = await stack.client.waitForSweep(sweepId, 120_000);
      expect(sweep).toMatchObject({
        status: 'completed',
        runner: 'external',
        pool,
        selectedOn: 'trainer',
        counts: { completed: 24, failed: 0 },
      });
      await Promise.all([a.exited, b.exited]);
      const results = (await stack.client.get(`/v1/sweeps/${sweepId}/results`)).body;
      expect(results.ranking).toHaveLength(12);
      expect(
        new Set(
          results.ranking.map((r: { config: { values: { weightDecay: number } } }) => r.config.values.weightDecay),
        ),
      ).toEqual(new Set([0, 0.01]));
      for (const row of results.ranking) expect(row.test.test_loss.n).toBe(2);
      for (const id of trialIds) {
        const t = await trialOf(id);
        const s = await series(stack.db.url, id);
        expect(s.updates.map((u) => u.step)).toEqual([...Array(T).keys()]);
        // A plateau schedule follows the evaluations the trainer posted (the server fed them to it).
        const metrics = s.evals.map((e) => e.val_loss);
        const want = lrSequence(t.config.schedule, { baseLr: t.config.baseLr, totalSteps: T, metrics, evalEvery: 20 });
        expect(s.updates.map((u) => u.lr)).toEqual(want.map((x) => expect.closeTo(x, 12)));
        expect(s.evals.map((e) => e.step)).toEqual([20, 40, 60]);
        expect(t).toMatchObject({ status: 'completed', attempt: 1, pool });
      }
    });

    it('kill -9 mid-trial: a fresh agent resumes from the last marker, and the series equals an uninterrupted run', async () => {
      const { sweepId, trialIds } = await submit(one('agents-kill', pool, { kind: 'constant' }));
      const victim = trainer({ LOGREG_STEP_SLEEP: '0.05', LOGREG_NAME: 'victim' });
      await eventually(
        'a marker past step 20',
        async () => {
          const [t] = await query<{ checkpoint_step: number | null }>(
            stack.db.url,
            'SELECT checkpoint_step FROM trials WHERE id = $1',
            [trialIds[0]],
          );
          return (t?.checkpoint_step ?? 0) >= 20;
        },
        60_000,
        50,
      );
      victim.signal('SIGKILL');
      await victim.exited;
      const rescuer = trainer({ LOGREG_NAME: 'rescuer' });
      await stack.client.waitForSweep(sweepId, 60_000);
      await rescuer.exited;
      const t = await trialOf(trialIds[0]!);
      expect(t).toMatchObject({ status: 'completed', attempt: 2, failures: 1 });
      const claimed = rescuer.lines.find((l) => l.startsWith(`claimed ${trialIds[0]}`))!;
      const resumedAt = Number(/from (\d+)/.exec(claimed)![1]);
      expect(resumedAt).toBeGreaterThanOrEqual(20);
      // The same trainer and seed uninterrupted, in a sweep of its own.
      const ref = await submit(one('agents-kill-ref', pool, { kind: 'constant' }));
      trainer({ LOGREG_NAME: 'ref' });
      await stack.client.waitForSweep(ref.sweepId, 60_000);
      const [got, want] = await Promise.all([
        series(stack.db.url, trialIds[0]!),
        series(stack.db.url, ref.trialIds[0]!),
      ]);
      expect(got.updates.map((u) => [u.step, u.lr, u.train_loss])).toEqual(
        want.updates.map((u) => [u.step, u.lr, u.train_loss]),
      );
      expect(got.evals.map((e) => [e.step, e.val_loss, e.val_acc])).toEqual(
        want.evals.map((e) => [e.step, e.val_loss, e.val_acc]),
      );
      // Rows before the marker are the first attempt's; from the resume step on, the second's.
      expect(got.updates.slice(resumedAt).every((u) => u.attempt === 2)).toBe(true);
      expect(got.updates.slice(0, resumedAt).every((u) => u.attempt === 1)).toBe(true);
    });

    it('SIGTERM releases the trial within the grace period; another agent finishes it without a failure', async () => {
      const { sweepId, trialIds } = await submit(one('agents-term', pool));
      const leaving = trainer({ LOGREG_STEP_SLEEP: '0.05', LOGREG_NAME: 'leaving' });
      await leaving.waitFor((l) => l.startsWith('claimed'));
      await eventually(
        'training under way',
        async () => (await series(stack.db.url, trialIds[0]!)).updates.length >= 15,
        30_000,
        50,
      );
      const t0 = Date.now();
      leaving.signal('SIGTERM');
      expect(await leaving.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(await trialOf(trialIds[0]!)).toMatchObject({ status: 'queued', failures: 0 });
      trainer({ LOGREG_NAME: 'successor' });
      await stack.client.waitForSweep(sweepId, 60_000);
      expect(await trialOf(trialIds[0]!)).toMatchObject({ status: 'completed', attempt: 2, failures: 0 });
    });

    it("a lease that lapses while the agent is stopped (SIGSTOP) hands the trial on; the stale agent's late writes are refused", async () => {
      const { sweepId, trialIds } = await submit(one('agents-stop', pool, { kind: 'constant' }));
      const stale = trainer({ LOGREG_STEP_SLEEP: '0.05', LOGREG_NAME: 'stale', LOGREG_IDLE: '1' });
      await eventually(
        'training under way',
        async () => (await series(stack.db.url, trialIds[0]!)).updates.length >= 10,
        30_000,
        50,
      );
      stale.signal('SIGSTOP');
      await eventually(
        'the lease lapsed and the trial went back',
        async () => (await trialOf(trialIds[0]!)).status === 'queued',
        30_000,
        100,
      );
      const next = trainer({ LOGREG_NAME: 'next' });
      await eventually('attempt 2 trains', async () => (await trialOf(trialIds[0]!)).attempt === 2, 30_000, 100);
      stale.signal('SIGCONT');
      await stack.client.waitForSweep(sweepId, 60_000);
      await Promise.all([stale.exited, next.exited]);
      const t = await trialOf(trialIds[0]!);
      expect(t).toMatchObject({ status: 'completed', attempt: 2, failures: 1 });
      // Every row from attempt 2's resume point on is attempt 2's: nothing the stale agent sent after its lease lapsed was kept.
      const s = await series(stack.db.url, trialIds[0]!);
      expect(s.updates.map((u) => u.step)).toEqual([...Array(T).keys()]);
      const resumedAt = Number(/from (\d+)/.exec(next.lines.find((l) => l.startsWith(`claimed ${trialIds[0]}`))!)![1]);
      expect(s.updates.slice(resumedAt).every((u) => u.attempt === 2)).toBe(true);
      expect(stale.lines.some((l) => l.includes(`stopped ${trialIds[0]}`) || l.includes('STALE_ATTEMPT'))).toBe(true);
    });

    it('cancel stops a running agent within seconds', async () => {
      const { sweepId, trialIds } = await submit(one('agents-cancel', pool));
      const busy = trainer({ LOGREG_STEP_SLEEP: '0.2', LOGREG_NAME: 'busy', LOGREG_IDLE: '1' });
      await eventually(
        'training under way',
        async () => (await series(stack.db.url, trialIds[0]!)).updates.length >= 3,
        30_000,
        50,
      );
      const t0 = Date.now();
      expect((await stack.client.post(`/v1/sweeps/${sweepId}/cancel`)).status).toBe(200);
      await busy.waitFor((l) => l.startsWith(`stopped ${trialIds[0]}`), 15_000);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(await trialOf(trialIds[0]!)).toMatchObject({ status: 'cancelled' });
    });

    it('delete mid-trial: the agent stops that trial within 10 s, does not exit, and completes a trial of another sweep', async () => {
      const doomed = await submit(one('agents-delete', pool, { kind: 'constant' }));
      const busy = trainer({ LOGREG_STEP_SLEEP: '0.2', LOGREG_NAME: 'busy', LOGREG_IDLE: '6' });
      await eventually(
        'training under way',
        async () => (await series(stack.db.url, doomed.trialIds[0]!)).updates.length >= 3,
        30_000,
        50,
      );
      const t0 = Date.now();
      expect((await stack.client.delete(`/v1/sweeps/${doomed.sweepId}`)).status).toBe(200);
      await busy.waitFor((l) => l.startsWith(`stopped ${doomed.trialIds[0]}`), 15_000);
      expect(Date.now() - t0).toBeLessThan(10_000);
      // Still running: the stop ended that trial, not the agent, and raised nothing out of its loop.
      const next = await submit(one('agents-after-delete', pool, { kind: 'constant' }));
      await stack.client.waitForSweep(next.sweepId, 60_000);
      expect(await trialOf(next.trialIds[0]!)).toMatchObject({ status: 'completed', attempt: 1 });
      expect(busy.lines.some((l) => l.startsWith(`claimed ${next.trialIds[0]}`))).toBe(true);
      expect(busy.lines.filter((l) => / ended: /.test(l))).toEqual([]);
      expect(await busy.exited).toBe(0);
      expect(busy.lines.at(-1)).toBe('agent done');
    });

    it('a trainer that reports a wrong lr fails as a schedule mismatch, without a retry', async () => {
      const { sweepId, trialIds } = await submit(one('agents-wrong-lr', pool, { kind: 'constant' }));
      trainer({ LOGREG_WRONG_LR: '1', LOGREG_NAME: 'wrong', LOGREG_IDLE: '1' });
      const sweep = await stack.client.waitForSweep(sweepId, 60_000);
      expect(sweep.status).toBe('failed');
      const t = await trialOf(trialIds[0]!);
      expect(t).toMatchObject({ status: 'failed', errorCode: 'SCHEDULE_MISMATCH', attempt: 1 });
      expect(t.error).toMatch(
        /^update 0 applied lr 0\.101\d*, but the schedule gives 0\.1: the trainer does not follow the trial's schedule$/,
      );
    });

    it('lets an agent token claim and report for its pools, and nothing else', async () => {
      const { sweepId, trialIds } = await submit(one('agents-scope', pool));
      const agent = apiClient(stack.api.url, token);
      expect((await agent.post('/v1/sweeps', one('by-agent', pool))).status).toBe(403);
      expect((await agent.get('/v1/sweeps')).status).toBe(403);
      expect((await agent.get(`/v1/sweeps/${sweepId}/results`)).status).toBe(403);
      expect((await agent.get(`/v1/trials/${trialIds[0]}/metrics`)).status).toBe(403);
      expect((await agent.post('/v1/admin/tokens', { projectId: 'default', name: 'x' })).status).toBe(403);
      expect((await agent.post('/v1/agents', { name: 'other', pool: 'not-mine', protocolVersion: 2 })).status).toBe(
        403,
      );
      expect(await agent.post('/v1/agents', { name: 'old', pool, protocolVersion: 99 })).toMatchObject({
        status: 426,
        body: { code: 'PROTOCOL_INCOMPATIBLE' },
      });
      // Protocol 1 (no lease tokens) is refused, naming the SDK releases to upgrade to.
      const v1 = await agent.post('/v1/agents', { name: 'old', pool, protocolVersion: 1 });
      expect(v1).toMatchObject({ status: 426, body: { code: 'PROTOCOL_INCOMPATIBLE' } });
      expect(v1.body.message).toMatch(/lrsweep-python ≥ 0\.2\.0 or @lrsweep\/agent ≥ 0\.2\.0/);
      // Another project's agent, even of a pool of the same name, sees none of this project's trials.
      const other = (
        await stack.lrsweep.createToken({ projectId: 'elsewhere', name: 'x', role: 'agent', pools: [pool] })
      ).token;
      const them = apiClient(stack.api.url, other);
      const reg = await them.post('/v1/agents', { name: 'spy', pool, protocolVersion: 2 });
      expect(reg.status).toBe(201);
      expect(await them.post(`/v1/agents/${reg.body.agentId}/claim`, { waitMs: 0 })).toMatchObject({
        status: 200,
        body: { trial: null },
      });
      expect((await them.post(`/v1/trials/${trialIds[0]}/lease`, { attempt: 1 })).status).toBe(404);
      expect((await them.get(`/v1/trials/${trialIds[0]}/lr?attempt=1`)).status).toBe(404);
      // This project's agent token claims it.
      const mine = await agent.post('/v1/agents', { name: 'mine', pool, protocolVersion: 2 });
      const claim = await agent.post(`/v1/agents/${mine.body.agentId}/claim`, { waitMs: 5000 });
      expect(claim).toMatchObject({
        status: 200,
        body: {
          trial: {
            id: trialIds[0],
            attempt: 1,
            totalSteps: T,
            resumeStep: 0,
            config: { features: 6 },
            leaseToken: expect.any(String),
          },
        },
      });
      const leaseToken = claim.body.trial.leaseToken as string;
      expect(leaseToken.length).toBeGreaterThanOrEqual(22);
      expect(await agent.post(`/v1/trials/${trialIds[0]}/complete`, { attempt: 1, leaseToken })).toMatchObject({
        status: 409,
        body: { code: 'TRIAL_NOT_DONE' },
      });
      expect(
        await agent.post(`/v1/trials/${trialIds[0]}/checkpoints`, { attempt: 1, leaseToken, step: 4, uri: 'x' }),
      ).toMatchObject({ status: 409, body: { code: 'CHECKPOINT_INCOMPLETE' } });
      expect((await agent.post(`/v1/trials/${trialIds[0]}/release`, { attempt: 1, leaseToken })).status).toBe(200);
      expect(await agent.post(`/v1/trials/${trialIds[0]}/lease`, { attempt: 1, leaseToken })).toMatchObject({
        status: 409,
        body: { code: 'STALE_ATTEMPT', reason: 'lease_lost' },
      });
      expect((await agent.get('/v1/agents')).body.agents.map((a: { name: string }) => a.name)).toContain('mine');
      await stack.client.post(`/v1/sweeps/${sweepId}/cancel`);
    });

    it('by hand: test_* only at the horizon, a non-finite loss marks the trial diverged, and an agent that trains nothing loses its trial', async () => {
      const agent = apiClient(stack.api.url, token);
      const me = (await agent.post('/v1/agents', { name: 'by-hand', pool, protocolVersion: 2 })).body.agentId;
      const claim = async () => (await agent.post(`/v1/agents/${me}/claim`, { waitMs: 10_000 })).body.trial;
      const nan = await submit(one('agents-nan', pool, { kind: 'constant' }));
      let t = await claim();
      expect(t.id).toBe(nan.trialIds[0]);
      expect(
        (
          await agent.post(`/v1/trials/${t.id}/evals`, {
            attempt: 1,
            leaseToken: t.leaseToken,
            step: 10,
            metrics: { test_loss: 1 },
          })
        ).status,
      ).toBe(400);
      expect(
        (
          await agent.post(`/v1/trials/${t.id}/updates`, {
            attempt: 1,
            leaseToken: t.leaseToken,
            updates: [
              { step: 0, lr: 0.1, loss: 0.7 },
              { step: 1, lr: 0.1, loss: null },
            ],
          })
        ).body,
      ).toMatchObject({ shouldStop: true, status: 'diverged' });
      expect(await trialOf(t.id)).toMatchObject({ status: 'diverged', divergedAtStep: 1 });

      const stall = await submit(one('agents-stall', pool, { kind: 'constant' }));
      t = await claim();
      expect(t.id).toBe(stall.trialIds[0]);
      // Renewing the lease without posting progress: past AGENT_STALL_MS the renewal says stop, and the lease lapses.
      const stopped = await eventually(
        'told to stop',
        async () => {
          const r = await agent.post(`/v1/trials/${t.id}/lease`, { attempt: 1, leaseToken: t.leaseToken });
          return r.body.shouldStop ? r : null;
        },
        20_000,
        300,
      );
      expect(stopped.body).toMatchObject({ shouldStop: true, leaseExpiresAt: null });
      await eventually(
        'the trial went back to the queue',
        async () => (await trialOf(t.id)).status === 'queued',
        20_000,
        200,
      );
      expect(await trialOf(t.id)).toMatchObject({ failures: 1, errorCode: 'LEASE_LOST' });
      await stack.client.post(`/v1/sweeps/${stall.sweepId}/cancel`);
    });
  });
}
