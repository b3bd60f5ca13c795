// The read routes, health and the OpenAPI description, on the real Postgres and Redis.
import { createRedis } from '@lrsweep/queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, createApiHarness } from './test-harness';
import { buildApp } from './app';

const spec = (name: string) => ({
  name,
  dataset: { name: 'synthetic', trainSize: 100, testSize: 50 },
  training: { epochs: 1, batchSize: 50, evalEvery: 1 },
  grid: { baseLr: [0.01, 0.1], schedule: [{ kind: 'constant' }], seeds: 2 },
});

describe('API routes', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await createApiHarness('routes');
  });
  afterAll(async () => h?.close());

  it('health and readiness check Postgres and Redis', async () => {
    expect((await h.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await h.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ok', checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('readiness reports a Redis that does not answer', async () => {
    const dead = createRedis('redis://127.0.0.1:1');
    dead.on('error', () => {});
    const a = await buildApp({ db: h.handle.prisma, redis: dead, queue: h.queue });
    const res = await a.inject('/readyz');
    await a.close();
    dead.disconnect();
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'unavailable', checks: { postgres: 'ok' } });
    expect(res.json().checks.redis).not.toBe('ok');
  });

  it('without a built dashboard, / says how to build it', async () => {
    const a = await buildApp({ db: h.handle.prisma, redis: h.redis, queue: h.queue, dashboardDir: '/nonexistent' });
    const res = await a.inject('/');
    await a.close();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('pnpm --filter @lrsweep/dashboard build');
  });

  it('describes every route in /openapi.json and serves /docs', async () => {
    const doc = (await h.inject('/openapi.json')).json();
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/healthz',
        '/metrics',
        '/readyz',
        '/scaling/backlog',
        '/v1/admin/tokens',
        '/v1/admin/tokens/{id}/revoke',
        '/v1/agents',
        '/v1/agents/{id}/claim',
        '/v1/agents/{id}/heartbeat',
        '/v1/pools/{pool}/backlog',
        '/v1/pools/{pool}/scaler',
        '/v1/schedules/preview',
        '/v1/sweeps',
        '/v1/sweeps/{id}',
        '/v1/sweeps/{id}/cancel',
        '/v1/sweeps/{id}/curves',
        '/v1/sweeps/{id}/extend',
        '/v1/sweeps/{id}/results',
        '/v1/sweeps/{id}/retry',
        '/v1/sweeps/{id}/schedules',
        '/v1/sweeps/{id}/range-test',
        '/v1/sweeps/{id}/transfer',
        '/v1/sweeps/{id}/trials',
        '/v1/sweeps/validate',
        '/v1/trials/{id}',
        '/v1/trials/{id}/attempts',
        '/v1/trials/{id}/checkpoints',
        '/v1/trials/{id}/complete',
        '/v1/trials/{id}/evals',
        '/v1/trials/{id}/fail',
        '/v1/trials/{id}/lease',
        '/v1/trials/{id}/lr',
        '/v1/trials/{id}/metrics',
        '/v1/trials/{id}/param-groups',
        '/v1/trials/{id}/release',
        '/v1/trials/{id}/rung',
        '/v1/trials/{id}/updates',
        '/v1/workers',
      ].sort(),
    );
    const body = doc.paths['/v1/sweeps'].post.requestBody.content['application/json'].schema;
    expect(JSON.stringify(body)).toContain('baseLr');
    const docs = await h.inject('/docs/');
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toContain('text/html');
  });

  it('lists sweeps newest first, paged, with status and counts', async () => {
    const ids: string[] = [];
    for (const name of ['first', 'second', 'third']) {
      const r = await h.inject({ method: 'POST', url: '/v1/sweeps', payload: spec(name) });
      expect(r.statusCode).toBe(201);
      ids.push(r.json().id);
    }
    const page1 = (await h.inject('/v1/sweeps?limit=2')).json();
    expect(page1.total).toBe(3);
    expect(page1.sweeps.map((s: { name: string }) => s.name)).toEqual(['third', 'second']);
    const page2 = (await h.inject('/v1/sweeps?limit=2&offset=2')).json();
    expect(page2.sweeps.map((s: { name: string }) => s.name)).toEqual(['first']);
    expect(page2.sweeps[0]).toMatchObject({
      status: 'queued',
      counts: { total: 4, queued: 4, running: 0, completed: 0 },
    });

    const one = (await h.inject(`/v1/sweeps/${ids[0]}`)).json();
    expect(one).toMatchObject({
      id: ids[0],
      name: 'first',
      status: 'queued',
      trialCount: 4,
      objective: { metric: 'val_loss', mode: 'min', aggregate: 'final' },
    });
    const trials = (await h.inject(`/v1/sweeps/${ids[0]}/trials?limit=3`)).json();
    expect(trials.total).toBe(4);
    expect(trials.trials).toHaveLength(3);
    expect(trials.trials[0]).toMatchObject({
      status: 'queued',
      attempt: 0,
      totalSteps: 2,
      config: { baseLr: 0.01, seed: 0, schedule: { kind: 'constant' } },
    });
    const results = (await h.inject(`/v1/sweeps/${ids[0]}/results`)).json();
    expect(results.provisional).toBe(true);
    expect(results.ranking).toHaveLength(2);
    expect(results.ranking[0]).toMatchObject({ n: 0, mean: null, partial: true });
  });

  it('answers 404 for what does not exist and 400 for a malformed id, in the error shape', async () => {
    const missing = await h.inject('/v1/sweeps/00000000-0000-4000-8000-000000000000');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'SWEEP_NOT_FOUND' });
    expect((await h.inject('/v1/trials/00000000-0000-4000-8000-000000000000/metrics')).json()).toMatchObject({
      code: 'TRIAL_NOT_FOUND',
    });
    const bad = await h.inject('/v1/sweeps/not-a-uuid');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'REQUEST_INVALID', issues: [{ path: 'id' }] });
    const page = await h.inject('/v1/sweeps?limit=0');
    expect(page.statusCode).toBe(400);
    expect(page.json().issues[0].path).toBe('limit');
    expect((await h.inject('/nope')).json()).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
  });
});
