// The agent routes' own rate limits (agent-limits.ts): per token for registrations, per agent for
// claims, per trial for reports and, in a bucket of its own, for the calls that keep a trial; the
// same whatever the token's role. Through buildApp on the real Postgres and Redis.
import { agentRateDefaults } from '@lrsweep/contract';
import { createToken } from '@lrsweep/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, createApiHarness } from './test-harness';

describe('agent rate limits', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await createApiHarness('agent-limits', {
      rateLimitPerMinute: 5,
      agentRate: { ...agentRateDefaults, registrationsPerToken: 3, claimsPerAgent: 1000, reportsPerTrial: 3 },
    });
  });
  afterAll(async () => h?.close());

  const post = (url: string, payload: object, token?: string) => h.inject({ method: 'POST', url, payload }, token);

  it('limits registrations per token, with Retry-After; another token has its own', async () => {
    const a = (await createToken(h.handle.prisma, { projectId: 'default', name: 'reg-a', role: 'agent', pools: ['p'] }))
      .token;
    const b = (await createToken(h.handle.prisma, { projectId: 'default', name: 'reg-b', role: 'agent', pools: ['p'] }))
      .token;
    const codes: number[] = [];
    for (let i = 0; i < 5; i++)
      codes.push((await post('/v1/agents', { name: `a${i}`, pool: 'p', protocolVersion: 2 }, a)).statusCode);
    expect(codes).toEqual([201, 201, 201, 429, 429]);
    const limited = await post('/v1/agents', { name: 'a9', pool: 'p', protocolVersion: 2 }, a);
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(limited.json().message).toMatch(/registrations/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await post('/v1/agents', { name: 'b0', pool: 'p', protocolVersion: 2 }, b)).statusCode).toBe(201);
  });

  it('an admin token on agent routes gets the agent limits, not RATE_LIMIT_PER_MINUTE', async () => {
    const admin = (await createToken(h.handle.prisma, { projectId: 'default', name: 'admin-agent', role: 'admin' }))
      .token;
    const me = (await post('/v1/agents', { name: 'admin-as-agent', pool: 'p', protocolVersion: 2 }, admin)).json()
      .agentId as string;
    const codes: number[] = [];
    for (let i = 0; i < 20; i++) codes.push((await post(`/v1/agents/${me}/heartbeat`, {}, admin)).statusCode);
    expect(codes).toEqual(Array(20).fill(200));
    // Its other routes keep the per-token limit (5 a minute here).
    const reads: number[] = [];
    for (let i = 0; i < 7; i++) reads.push((await h.inject('/v1/sweeps', admin)).statusCode);
    expect(reads.slice(0, 5)).toEqual(Array(5).fill(200));
    expect(reads.slice(5)).toEqual([429, 429]);
  });

  it('reports over their limit answer 429, and lease renewals and completion still go through', async () => {
    const agent = (
      await createToken(h.handle.prisma, { projectId: 'default', name: 'reporter', role: 'agent', pools: ['ext'] })
    ).token;
    const created = await h.inject({
      method: 'POST',
      url: '/v1/sweeps',
      payload: {
        name: 'ext',
        runner: { kind: 'external', pool: 'ext' },
        training: { totalSteps: 10, evalEvery: 10 },
        grid: { baseLr: [0.1], schedule: [{ kind: 'constant' }] },
      },
    });
    expect(created.statusCode).toBe(201);
    const me = (await post('/v1/agents', { name: 'reporter', pool: 'ext', protocolVersion: 2 }, agent)).json()
      .agentId as string;
    const trial = (await post(`/v1/agents/${me}/claim`, { waitMs: 5000 }, agent)).json().trial as {
      id: string;
      leaseToken: string;
    };
    const fence = { attempt: 1, leaseToken: trial.leaseToken };
    const codes: number[] = [];
    for (let step = 0; step < 5; step++)
      codes.push(
        (await post(`/v1/trials/${trial.id}/updates`, { ...fence, updates: [{ step, lr: 0.1, loss: 1 }] }, agent))
          .statusCode,
      );
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    for (let i = 0; i < 5; i++) expect((await post(`/v1/trials/${trial.id}/lease`, fence, agent)).statusCode).toBe(200);
    expect((await post(`/v1/trials/${trial.id}/release`, fence, agent)).json()).toMatchObject({
      ok: true,
      status: 'queued',
    });
  });
});
