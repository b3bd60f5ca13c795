// An ASHA trial's rungs over raw HTTP, as a hostile or careless trainer would meet them: the claim
// says where the rung is; the server refuses updates past it, a rung report before its marker,
// another rung's report, a short cooldown, a missing metric, a report without the lease token,
// and rates off the cooldown (422, the trial failed); a good report stops the attempt (paused),
// and the promoted trial's next claim resumes at the rung's checkpoint with the next rung.
// (A whole ASHA sweep under the Python SDK, through a kill -9: test/agents-pytorch.test.ts.)
import { apiClient, query, type Stack, startStack } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('ASHA rungs in the agent protocol', () => {
  let stack: Stack;
  let agent: ReturnType<typeof apiClient>;
  let agentId: string;
  const pool = 'rungs';

  beforeAll(async () => {
    stack = await startStack('asha-protocol', { workers: 0, env: { AGENT_LEASE_MS: '20000' } });
    const { token } = await stack.lrsweep.createToken({
      projectId: 'default',
      name: 'rungs',
      role: 'agent',
      pools: [pool],
    });
    agent = apiClient(stack.api.url, token);
    agentId = (await agent.post('/v1/agents', { name: 'by-hand', pool, protocolVersion: 2 })).body.agentId;
  }, 120_000);
  afterAll(async () => stack?.stop());

  const submit = async (search?: object) => {
    const r = await stack.client.post('/v1/sweeps', {
      name: 'rungs',
      runner: { kind: 'external', pool },
      training: { totalSteps: 40, evalEvery: 10 },
      grid: { baseLr: [0.1], schedule: [{ kind: 'constant' }], seeds: 1 },
      ...(search ? { search } : {}),
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.id as string;
  };
  const claim = async () => {
    const c = (await agent.post(`/v1/agents/${agentId}/claim`, { waitMs: 5000 })).body.trial;
    expect(c).not.toBeNull();
    return c as {
      id: string;
      attempt: number;
      leaseToken: string;
      resumeStep: number;
      mustCheckpointAt: number[];
      rung: { index: number; step: number; metric: string; cooldownSteps: number } | null;
    };
  };

  it('checks every rung report, stops the attempt at a good one, and resumes the promoted trial at its rung', async () => {
    // T = 40, rungs at 10 and 20 (η = 2); one configuration: each rung promotes it at once.
    await submit({ kind: 'asha', minBudget: 10, reduction: 2 });
    const c = await claim();
    expect(c.rung).toEqual({ index: 0, step: 10, metric: 'val_loss', cooldownSteps: 2 });
    expect(c.mustCheckpointAt).toEqual([9]);
    const fence = { attempt: c.attempt, leaseToken: c.leaseToken };
    const at = (what: string) => `/v1/trials/${c.id}/${what}`;
    const rows = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => ({ step: from + i, lr: 0.1, loss: 1 - (from + i) / 100 }));

    const past = await agent.post(at('updates'), { ...fence, updates: rows(0, 11) });
    expect(past.status).toBe(400);
    expect(JSON.stringify(past.body)).toContain('past the rung at 10 updates');
    expect((await agent.post(at('updates'), { ...fence, updates: rows(0, 10) })).status).toBe(200);

    const report = {
      ...fence,
      index: 0,
      cooldown: [
        { lr: 0.1, loss: 0.8 },
        { lr: 0.05, loss: 0.7 },
      ],
      metrics: { val_loss: 0.75 },
    };
    const early = await agent.post(at('rung'), report);
    expect([early.status, early.body.code]).toEqual([409, 'CHECKPOINT_INCOMPLETE']);
    expect(early.body.message).toContain('marker after update 9');
    expect((await agent.post(at('checkpoints'), { ...fence, step: 9, uri: 'file:///r/9' })).status).toBe(200);

    // The side branch: from the schedule's rate at the rung (0.1) down linearly, 2 updates.
    const branch = await agent.get(`${at('rung')}?attempt=${c.attempt}&leaseToken=${c.leaseToken}`);
    expect(branch.body).toEqual({ index: 0, step: 10, metric: 'val_loss', lr: [0.1, 0.05] });
    const unfenced = await agent.post(at('rung'), { ...report, leaseToken: undefined });
    expect([unfenced.status, unfenced.body.code]).toEqual([409, 'LEASE_MISMATCH']);
    const other = await agent.post(at('rung'), { ...report, index: 1 });
    expect([other.status, other.body.code]).toEqual([409, 'NO_RUNG']);
    const short = await agent.post(at('rung'), { ...report, cooldown: report.cooldown.slice(1) });
    expect(short.status).toBe(400);
    expect(JSON.stringify(short.body)).toContain('cooldown');
    const unjudged = await agent.post(at('rung'), { ...report, metrics: { val_acc: 0.5 } });
    expect(unjudged.status).toBe(400);
    expect(unjudged.body.message).toContain('val_loss');

    const good = await agent.post(at('rung'), report);
    expect(good.body).toMatchObject({ ok: true, shouldStop: true, status: 'paused' });
    // The attempt is over: its writes are refused; the cooldown is not in the series.
    const after = await agent.post(at('updates'), { ...fence, updates: rows(10, 11) });
    expect([after.status, after.body.code]).toEqual([409, 'STALE_ATTEMPT']);
    const series = await query<{ step: number }>(
      stack.db.url,
      'SELECT step FROM update_metrics WHERE trial_id = $1 ORDER BY step',
      [c.id],
    );
    expect(series.map((r) => r.step)).toEqual([...Array(10).keys()]);
    const [judged] = await query<{ value: number; cooldown_steps: number }>(
      stack.db.url,
      'SELECT value, cooldown_steps FROM rung_results WHERE trial_id = $1',
      [c.id],
    );
    expect(judged).toEqual({ value: 0.75, cooldown_steps: 2 });

    // Promoted (the only configuration): the next claim resumes at the rung's checkpoint, with the next rung.
    const next = await claim();
    expect(next).toMatchObject({ id: c.id, attempt: c.attempt + 1, resumeStep: 10, mustCheckpointAt: [19] });
    expect(next.rung).toEqual({ index: 1, step: 20, metric: 'val_loss', cooldownSteps: 3 });
    const fence2 = { attempt: next.attempt, leaseToken: next.leaseToken };
    expect((await agent.post(at('updates'), { ...fence2, updates: rows(10, 20) })).status).toBe(200);
    expect((await agent.post(at('checkpoints'), { ...fence2, step: 19, uri: 'file:///r/19' })).status).toBe(200);
    // A rate off the side branch: the trainer does not follow the trial's schedule, and the trial fails.
    const off = await agent.post(at('rung'), {
      ...fence2,
      index: 1,
      cooldown: [0.1, 0.1, 0.1].map((lr) => ({ lr, loss: 0.5 })),
      metrics: { val_loss: 0.5 },
    });
    expect([off.status, off.body.code]).toEqual([422, 'SCHEDULE_MISMATCH']);
    expect((await stack.client.get(`/v1/trials/${c.id}`)).body).toMatchObject({ status: 'failed' });
  }, 60_000);

  it('answers NO_RUNG for a trial without rungs', async () => {
    await submit();
    const c = await claim();
    expect(c.rung).toBeNull();
    const r = await agent.get(`/v1/trials/${c.id}/rung?attempt=${c.attempt}&leaseToken=${c.leaseToken}`);
    expect([r.status, r.body.code]).toEqual([409, 'NO_RUNG']);
    expect(r.body.message).toContain('not an ASHA trial');
  }, 30_000);
});
