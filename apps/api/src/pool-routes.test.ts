// What an autoscaler of agents reads and holds, through the real API and Postgres: a pool's ready
// backlog in the caller's project (agents' sweeps only, without trials held back by maxParallel),
// and the one scaler lease per project and pool (a second holder is told who has it; a lapsed
// lease passes on; only its holder releases it). Another pool's token is refused.
import { createToken } from '@lrsweep/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, createApiHarness } from './test-harness';

describe('pool backlog and scaler lease', () => {
  let h: ApiHarness;
  let agent: string;
  let other: string;
  beforeAll(async () => {
    h = await createApiHarness('pools');
    const t = (name: string, pools: string[]) =>
      createToken(h.handle.prisma, { projectId: 'default', name, role: 'agent', pools }).then((x) => x.token);
    agent = await t('scaler', ['scale']);
    other = await t('elsewhere', ['elsewhere']);
  });
  afterAll(async () => h?.close());

  const external = (name: string, extra: object = {}) => ({
    name,
    runner: { kind: 'external', pool: 'scale' },
    training: { totalSteps: 4, evalEvery: 2 },
    grid: { baseLr: [0.01, 0.1], schedule: [{ kind: 'constant' }, { kind: 'cosine' }], seeds: 2 },
    ...extra,
  });

  it('counts the ready trials of the pool’s external sweeps, maxParallel applied', async () => {
    const backlog = async (q = '') =>
      (await h.inject({ method: 'GET', url: `/v1/pools/scale/backlog${q}` }, agent)).json();
    expect(await backlog()).toEqual({ pool: 'scale', runner: 'external', ready: 0, running: 0 });
    const a = await h.inject({ method: 'POST', url: '/v1/sweeps', payload: external('a') });
    expect(a.statusCode, a.body).toBe(201);
    expect((await backlog()).ready).toBe(8);
    // A sweep that lets 3 run at once adds 3, not its 8.
    await h.inject({ method: 'POST', url: '/v1/sweeps', payload: external('b', { maxParallel: 3 }) });
    expect((await backlog()).ready).toBe(11);
    // The built-in workers' sweeps of the same pool are theirs, not the agents'.
    expect(await backlog('?runner=builtin')).toMatchObject({ ready: 0, running: 0 });
    // KEDA's figure for the built-in workers leaves the agents' sweeps out too.
    const keda = async (q: string) => (await h.inject(`/scaling/backlog?pool=scale${q}`)).json().backlog;
    expect(await keda('')).toBe(0);
    expect(await keda('&runner=external')).toBe(11);
    const denied = await h.inject({ method: 'GET', url: '/v1/pools/scale/backlog' }, other);
    expect(denied.statusCode).toBe(403);
    expect(denied.json().message).toMatch(/may not serve pool 'scale'/);
  });

  it('grants one scaler the lease; a second is told who holds it; a lapsed lease passes on; only the holder releases', async () => {
    const lease = (holder: string, ttlMs = 60_000, token = agent) =>
      h.inject({ method: 'POST', url: '/v1/pools/scale/scaler', payload: { holder, ttlMs } }, token);
    const first = (await lease('host-a:1')).json();
    expect(first).toMatchObject({ granted: true, holder: 'host-a:1' });
    expect((await lease('host-a:1')).json().granted).toBe(true);
    expect((await lease('host-b:2')).json()).toMatchObject({ granted: false, holder: 'host-a:1' });
    // Only the holder gives it up.
    const del = (holder: string) =>
      h.inject({ method: 'DELETE', url: `/v1/pools/scale/scaler?holder=${holder}` }, agent).then((r) => r.json());
    expect(await del('host-b:2')).toEqual({ released: false });
    expect(await del('host-a:1')).toEqual({ released: true });
    expect((await lease('host-b:2', 10_000)).json()).toMatchObject({ granted: true, holder: 'host-b:2' });
    // A lease left to lapse passes to the next scaler.
    await h.handle.prisma.$executeRaw`UPDATE scaler_leases SET expires_at = now() - interval '1 second'`;
    expect((await lease('host-c:3')).json()).toMatchObject({ granted: true, holder: 'host-c:3' });
    // Bad input names the field; another pool's token is refused.
    const bad = await lease('no spaces allowed');
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json())).toMatch(/holder/);
    expect((await lease('host-d:4', 60_000, other)).statusCode).toBe(403);
  });
});
