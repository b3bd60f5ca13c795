// An attempt's optimizer parameter groups through the real API and Postgres: declared once per
// attempt by the attempt that holds the trial (the same declaration again is a retried request;
// another one is refused), group 0 at the schedule's rate, shown with the attempt; bad input is
// refused naming the field.
import { createToken } from '@lrsweep/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, createApiHarness } from './test-harness';

describe('POST /v1/trials/:id/param-groups', () => {
  let h: ApiHarness;
  let agent: string;
  beforeAll(async () => {
    h = await createApiHarness('groups');
    agent = (await createToken(h.handle.prisma, { projectId: 'default', name: 'g', role: 'agent', pools: ['g'] }))
      .token;
  });
  afterAll(async () => h?.close());
  const post = (url: string, payload: object, token = agent) => h.inject({ method: 'POST', url, payload }, token);

  it('records the groups once per attempt and shows them with the attempt', async () => {
    const created = await h.inject({
      method: 'POST',
      url: '/v1/sweeps',
      payload: {
        name: 'groups',
        runner: { kind: 'external', pool: 'g' },
        training: { totalSteps: 4, evalEvery: 2 },
        grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], seeds: 1 },
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const me = (await post('/v1/agents', { name: 'g', pool: 'g', protocolVersion: 2 })).json().agentId;
    const t = (await post(`/v1/agents/${me}/claim`, { waitMs: 2000 })).json().trial;
    const fence = { attempt: t.attempt, leaseToken: t.leaseToken };
    const url = `/v1/trials/${t.id}/param-groups`;
    const groups = [
      { name: 'head', lrMultiplier: 1, weightDecay: 0.01 },
      { name: 'backbone', lrMultiplier: 0.1, weightDecay: 0.01 },
      { name: 'norms', lrMultiplier: 1, weightDecay: 0 },
    ];

    // Bad input names the field.
    const notOne = await post(url, { ...fence, groups: [{ name: 'a', lrMultiplier: 0.5 }] });
    expect(notOne.statusCode).toBe(400);
    expect(JSON.stringify(notOne.json())).toMatch(/groups\[0\]\.lrMultiplier/);
    const twice = await post(url, {
      ...fence,
      groups: [
        { name: 'a', lrMultiplier: 1 },
        { name: 'a', lrMultiplier: 2 },
      ],
    });
    expect(twice.statusCode).toBe(400);
    expect(JSON.stringify(twice.json())).toMatch(/groups\[1\]\.name/);
    // Only the attempt that holds the trial may declare them.
    expect((await post(url, { attempt: t.attempt, leaseToken: 'not-it', groups })).statusCode).toBe(409);

    expect((await post(url, { ...fence, groups })).json()).toMatchObject({ ok: true, shouldStop: false });
    // The same again (a retried request) is fine; other groups are refused.
    expect((await post(url, { ...fence, groups })).statusCode).toBe(200);
    const other = await post(url, { ...fence, groups: groups.slice(0, 2) });
    expect(other.statusCode).toBe(409);
    expect(other.json().code).toBe('PARAM_GROUPS_DECLARED');

    const view = (await h.inject(`/v1/trials/${t.id}/attempts`)).json();
    expect(view.attempts).toHaveLength(1);
    expect(view.attempts[0].paramGroups).toEqual(groups);
  });
});
