// An agent's trial end makes the same work due as a built-in worker's (the engine's afterTrial):
// in a maxParallel sweep the next held trial starts at once when the agent's trial completes,
// fails, diverges (a non-finite loss) or is failed by the server (a rate off the schedule), not
// only when the reconciler next passes. Through buildApp (no reconciler runs) on the real
// Postgres and Redis.
import { createToken } from '@lrsweep/db';
import { query } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, createApiHarness } from './test-harness';

describe('an agent trial’s end in a maxParallel sweep', () => {
  let h: ApiHarness;
  let agent: string;
  let me: string;
  beforeAll(async () => {
    h = await createApiHarness('agent-ends');
    agent = (await createToken(h.handle.prisma, { projectId: 'default', name: 'ends', role: 'agent', pools: ['ends'] }))
      .token;
  });
  afterAll(async () => h?.close());

  const post = (url: string, payload: object) => h.inject({ method: 'POST', url, payload }, agent);
  const rates = async (t: { id: string; leaseToken: string }, count: number) =>
    (
      await h.inject(
        { method: 'GET', url: `/v1/trials/${t.id}/lr?attempt=1&leaseToken=${t.leaseToken}&from=0&count=${count}` },
        agent,
      )
    ).json().lr as number[];
  const claim = async (waitMs: number) =>
    (await post(`/v1/agents/${me}/claim`, { waitMs })).json().trial as { id: string; leaseToken: string } | null;

  it('admits the next held trial at once after each kind of end', async () => {
    const created = await h.inject({
      method: 'POST',
      url: '/v1/sweeps',
      payload: {
        name: 'held',
        runner: { kind: 'external', pool: 'ends' },
        maxParallel: 1,
        training: { totalSteps: 2, evalEvery: 2 },
        grid: { baseLr: [0.1, 0.2, 0.3, 0.4, 0.5], schedule: [{ kind: 'constant' }] },
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    me = (await post('/v1/agents', { name: 'ends', pool: 'ends', protocolVersion: 2 })).json().agentId;
    const admitted = async () =>
      (
        await query<{ n: number }>(
          h.db.url,
          "SELECT count(*)::int AS n FROM trials WHERE sweep_id = $1 AND (status = 'running' OR (status = 'queued' AND job_id IS NOT NULL))",
          [created.json().id],
        )
      )[0]!.n;

    const ends: [string, (t: { id: string; leaseToken: string }) => Promise<unknown>][] = [
      [
        'completed',
        async (t) => {
          const fence = { attempt: 1, leaseToken: t.leaseToken };
          const lr = await rates(t, 2);
          await post(`/v1/trials/${t.id}/updates`, {
            ...fence,
            updates: lr.map((rate, step) => ({ step, lr: rate, loss: 1 })),
          });
          return (await post(`/v1/trials/${t.id}/complete`, fence)).json();
        },
      ],
      [
        'failed by the agent',
        async (t) =>
          (
            await post(`/v1/trials/${t.id}/fail`, {
              attempt: 1,
              leaseToken: t.leaseToken,
              message: 'out of memory',
              retryable: false,
            })
          ).json(),
      ],
      [
        'diverged',
        async (t) => {
          const fence = { attempt: 1, leaseToken: t.leaseToken };
          const [rate] = await rates(t, 1);
          return (
            await post(`/v1/trials/${t.id}/updates`, { ...fence, updates: [{ step: 0, lr: rate, loss: null }] })
          ).json();
        },
      ],
      [
        'failed by the server (a rate off the schedule)',
        async (t) =>
          (
            await post(`/v1/trials/${t.id}/updates`, {
              attempt: 1,
              leaseToken: t.leaseToken,
              updates: [{ step: 0, lr: 123, loss: 1 }],
            })
          ).json(),
      ],
    ];
    const statuses: string[] = [];
    for (const [name, end] of ends) {
      const t = await claim(5000);
      expect(t, `a trial to claim before the end '${name}'`).not.toBeNull();
      expect(await admitted()).toBe(1);
      await end(t!);
      statuses.push(
        (await query<{ status: string }>(h.db.url, 'SELECT status::text FROM trials WHERE id = $1', [t!.id]))[0]!
          .status,
      );
      // The next held trial got its delivery as the trial ended (no reconciler runs here).
      expect(await admitted(), `after '${name}'`).toBe(1);
    }
    expect(statuses).toEqual(['completed', 'failed', 'diverged', 'failed']);
    expect(await claim(5000)).not.toBeNull();
  }, 60_000);
});
