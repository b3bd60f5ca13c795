// The holes a red team found in the API (issue "A service that holds under attack"), one test
// each; every one of them failed on the code before this change.
import { connect } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createDb, createToken, ensureBootstrapToken, hashToken, revokeToken } from '@lrsweep/db';
import { createRedis, createTrialQueue } from '@lrsweep/queue';
import { createTestDatabase, deletePrefix, eventually, query, startOwnRedis, uniquePrefix } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app';
import { reconcileOnce } from './reconciler';
import { type ApiHarness, createApiHarness } from './test-harness';

const spec = (over: Record<string, unknown> = {}) => ({
  name: 'hard',
  dataset: { name: 'synthetic', trainSize: 100, testSize: 50 },
  training: { epochs: 1, batchSize: 50, evalEvery: 1 },
  grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], seeds: 1 },
  ...over,
});

/** Sends `head` as the request's first lines over a raw socket: the status line of the answer. */
function rawRequest(port: number, head: string, body = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () =>
      s.end(
        `${head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n${body ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body}`,
      ),
    );
    let data = '';
    s.on('data', (d) => (data += d.toString()));
    s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    s.on('error', reject);
  });
}

describe('auth on the decoded, normalized path', () => {
  let h: ApiHarness;
  let port: number;
  beforeAll(async () => {
    h = await createApiHarness('bypass');
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    port = (h.app.server.address() as { port: number }).port;
  });
  afterAll(async () => h?.close());

  const preview = JSON.stringify({ schedule: { kind: 'constant' }, baseLr: 0.1, totalSteps: 10 });
  const validate = JSON.stringify(spec());
  it.each([
    ['GET /v1/sweeps HTTP/1.1', ''],
    ['GET /%761/sweeps HTTP/1.1', ''],
    ['GET /v%31/sweeps HTTP/1.1', ''],
    ['GET /%76%31/sweeps/ HTTP/1.1', ''],
    ['GET //v1/sweeps HTTP/1.1', ''],
    ['GET /v1//sweeps HTTP/1.1', ''],
    ['GET /V1/sweeps HTTP/1.1', ''],
    ['GET /v1/./sweeps HTTP/1.1', ''],
    ['GET /v1/x/../sweeps HTTP/1.1', ''],
    ['GET /v1%2Fsweeps HTTP/1.1', ''],
    ['GET http://127.0.0.1/v1/sweeps HTTP/1.1', ''],
    ['GET http://evil.example/%761/sweeps HTTP/1.1', ''],
    [`GET /v1/sweeps/${randomUUID()} HTTP/1.1`, ''],
    ['POST /%761/schedules/preview HTTP/1.1', preview],
    ['POST http://127.0.0.1/v1/schedules/preview HTTP/1.1', preview],
    ['POST /v1/schedules/preview/ HTTP/1.1', preview],
    ['POST /%76%31/sweeps/validate HTTP/1.1', validate],
    ['POST /v1/Sweeps/validate HTTP/1.1', validate],
  ])('%s without a token: 401 or 404, never an answer and never a 500', async (head, body) => {
    const status = await rawRequest(port, head, body);
    expect([400, 401, 404]).toContain(status);
  });

  it('still answers the public routes', async () => {
    expect(await rawRequest(port, 'GET /healthz HTTP/1.1')).toBe(200);
    expect(await rawRequest(port, 'GET /openapi.json HTTP/1.1')).toBe(200);
  });
});

describe('input that costs', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await createApiHarness('cost', { maxTrialSteps: 50_000 });
  });
  afterAll(async () => h?.close());

  it('refuses a NUL or a lone surrogate anywhere, naming the field, in submit and validate alike', async () => {
    for (const [name, path] of [
      ['a\u0000b', 'name'],
      ['\ud800x', 'name'],
    ] as const) {
      for (const url of ['/v1/sweeps', '/v1/sweeps/validate']) {
        const r = await h.inject({ method: 'POST', url, payload: spec({ name }) });
        expect(r.statusCode, `${url} ${JSON.stringify(name)}`).toBe(400);
        expect(r.json()).toMatchObject({ code: 'SPEC_INVALID', issues: [{ path }] });
      }
    }
    const key = await h.inject({
      method: 'POST',
      url: '/v1/sweeps',
      payload: `{"name":"x","grid":{"baseLr":[0.1],"schedule":[{"kind":"constant"}]},"\\u0000":1}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(key.statusCode).toBe(400);
    expect(await h.handle.prisma.sweep.count()).toBe(0);
  });

  it('refuses a long array before building its syntax tree, naming where it is', async () => {
    const lrs = Array.from({ length: 20_000 }, (_, i) => (i + 1) * 1e-6);
    const r = await h.inject({
      method: 'POST',
      url: '/v1/sweeps',
      payload: JSON.stringify(spec({ grid: { baseLr: lrs, schedule: [{ kind: 'constant' }] } })),
      headers: { 'content-type': 'application/json' },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({
      code: 'SPEC_INVALID',
      issues: [{ path: 'grid.baseLr', message: 'a list of more than 10000 values' }],
    });
    // Over the body limit (256 kB by default): 413 before anything is parsed.
    const big = await h.inject({
      method: 'POST',
      url: '/v1/sweeps',
      payload: JSON.stringify(spec({ name: 'x'.repeat(300_000) })),
      headers: { 'content-type': 'application/json' },
    });
    expect(big.statusCode).toBe(413);
  });

  it('caps a trial horizon (MAX_TRIAL_STEPS)', async () => {
    const r = await h.inject({
      method: 'POST',
      url: '/v1/sweeps',
      payload: spec({
        dataset: { name: 'synthetic', trainSize: 100_000, testSize: 50 },
        training: { epochs: 100, batchSize: 1, evalEvery: 1000 },
      }),
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().issues).toEqual([
      expect.objectContaining({ path: 'training.epochs', message: expect.stringContaining('MAX_TRIAL_STEPS') }),
    ]);
    const external = await h.inject({
      method: 'POST',
      url: '/v1/sweeps',
      payload: {
        name: 'ext',
        runner: { kind: 'external', pool: 'torch' },
        training: { totalSteps: 1_000_000_000 },
        grid: { baseLr: [0.1], schedule: [{ kind: 'constant' }] },
      },
    });
    expect(external.statusCode).toBe(400);
    expect(external.json().issues).toEqual([expect.objectContaining({ path: 'training.totalSteps' })]);
  });

  it('answers a huge schedule preview without stalling other requests', async () => {
    const milestones = Array.from({ length: 10_000 }, (_, i) => i * 100);
    const previews = Array.from({ length: 3 }, () =>
      h.inject({
        method: 'POST',
        url: '/v1/schedules/preview',
        payload: { schedule: { kind: 'multistep', milestones, gamma: 0.999 }, baseLr: 0.1, totalSteps: 1_000_000 },
      }),
    );
    const t0 = Date.now();
    // Started with the previews; answered between them (each preview is a bounded amount of work).
    const health = await h.app.inject('/healthz');
    const healthMs = Date.now() - t0;
    const answers = await Promise.all(previews);
    expect(health.statusCode).toBe(200);
    for (const a of answers) {
      expect(a.statusCode).toBe(200);
      const p = a.json();
      expect(p).toMatchObject({ totalSteps: 1_000_000, downsampled: true });
      expect(p.steps.length).toBeLessThanOrEqual(2000);
      // Milestone 0 counts from the first update (PyTorch MultiStepLR).
      expect(p.lr[0]).toBeCloseTo(0.1 * 0.999, 15);
    }
    // A generous bound (before: 3.5–13.5 s for one such preview).
    expect(healthMs).toBeLessThan(3000);
  });

  it("pages a long trial's metrics: a bounded answer, and every row exactly once across pages", async () => {
    const created = (await h.inject({ method: 'POST', url: '/v1/sweeps', payload: spec() })).json();
    const trial = (await h.inject(`/v1/sweeps/${created.id}/trials`)).json().trials[0];
    await query(
      h.db.url,
      'INSERT INTO update_metrics (trial_id, step, lr, train_loss, attempt) SELECT $1, s, 0.01, 1.0, 1 FROM generate_series(0, 24999) s',
      [trial.id],
    );
    await query(
      h.db.url,
      'INSERT INTO evaluations (trial_id, step, val_loss, val_acc, attempt) SELECT $1, s, 0.5, 0.5, 1 FROM generate_series(100, 25000, 100) s',
      [trial.id],
    );
    const first = (await h.inject(`/v1/trials/${trial.id}/metrics`)).json();
    expect(first.updates).toHaveLength(10_000);
    expect(first.nextFrom).toBe(10_000);
    const steps: number[] = [];
    const evals: number[] = [];
    for (let from: number | null = 0; from !== null; ) {
      const page: { updates: { step: number }[]; evals: { step: number }[]; nextFrom: number | null } = (
        await h.inject(`/v1/trials/${trial.id}/metrics?from=${from}&limit=7000`)
      ).json();
      steps.push(...page.updates.map((u) => u.step));
      evals.push(...page.evals.map((e) => e.step));
      from = page.nextFrom;
    }
    expect(steps).toEqual([...Array(25_000).keys()]);
    expect(evals).toEqual(Array.from({ length: 250 }, (_, i) => (i + 1) * 100));
    expect((await h.inject(`/v1/trials/${trial.id}/metrics?limit=100001`)).statusCode).toBe(400);
  });
});

describe('guessing tokens is not free', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await createApiHarness('guess', { authFailuresPerMinute: 20, tokenCacheMs: 300, trustProxy: true });
  });
  afterAll(async () => h?.close());

  const as = (ip: string, token: string) => ({
    method: 'GET' as const,
    url: '/v1/sweeps',
    headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': ip },
  });

  it('limits failed lookups per client address with Retry-After, and never locks out a valid token (200 guesses, then a valid one)', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 200; i++)
      codes.push((await h.app.inject(as('203.0.113.7', `lrs_guess-${String(i).padStart(16, '0')}`))).statusCode);
    expect(codes.slice(0, 20).every((c) => c === 401)).toBe(true);
    expect(codes.slice(20).every((c) => c === 429)).toBe(true);
    // A valid token from the same address, guessing still going on: served.
    expect((await h.app.inject(as('203.0.113.7', h.token))).statusCode).toBe(200);
    const limited = await h.app.inject(as('203.0.113.7', 'lrs_guess-the-201st'));
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is not held back by this one's failures.
    expect((await h.app.inject(as('198.51.100.9', `lrs_other-${'x'.repeat(16)}`))).statusCode).toBe(401);
    expect((await h.app.inject(as('198.51.100.9', h.token))).statusCode).toBe(200);
  });

  it('has a budget of failed lookups across all addresses too', async () => {
    const g = await buildApp({
      db: h.handle.prisma,
      redis: h.redis,
      queue: h.queue,
      trustProxy: true,
      authFailuresPerMinute: 1000,
      authGlobalFailuresPerMinute: 10,
    });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 14; i++)
        codes.push((await g.inject(as(`192.0.2.${i}`, `lrs_spread-${String(i).padStart(16, '0')}`))).statusCode);
      expect(codes).toEqual([...Array(10).fill(401), ...Array(4).fill(429)]);
      expect((await g.inject(as('192.0.2.200', h.token))).statusCode).toBe(200);
    } finally {
      await g.close();
    }
  });

  it('takes the address from X-Forwarded-For only when TRUST_PROXY says so', async () => {
    const direct = await buildApp({ db: h.handle.prisma, redis: h.redis, queue: h.queue, authFailuresPerMinute: 5 });
    try {
      // Each request claims another forwarded address: without a trusted proxy they are one client.
      const codes: number[] = [];
      for (let i = 0; i < 8; i++)
        codes.push((await direct.inject(as(`192.0.2.${i}`, `lrs_nope-${String(i).padStart(16, '0')}`))).statusCode);
      expect(codes).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    } finally {
      await direct.close();
    }
  });

  it('caches a valid token for a moment only: a revoked one stops working within TOKEN_CACHE_MS', async () => {
    const t = await createToken(h.handle.prisma, { projectId: 'default', name: 'short' });
    expect((await h.app.inject(as('198.51.100.10', t.token))).statusCode).toBe(200);
    await revokeToken(h.handle.prisma, t.id);
    await new Promise((r) => setTimeout(r, 400));
    expect((await h.app.inject(as('198.51.100.10', t.token))).statusCode).toBe(401);
  });
});

describe('token administration stays in its project', () => {
  let h: ApiHarness;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    h = await createApiHarness('scope', { tokenCacheMs: 0 });
    tokens.operator = h.operator;
    tokens.adminA = h.token;
    for (const [k, projectId, role] of [
      ['adminB', 'team-b', 'admin'],
      ['memberA', 'default', 'member'],
      ['agentA', 'default', 'agent'],
    ] as const) {
      const t = await createToken(h.handle.prisma, {
        projectId,
        name: k,
        role,
        ...(role === 'agent' ? { pools: ['gpu'] } : {}),
      });
      tokens[k] = t.token;
      ids[k] = t.id;
    }
  });
  afterAll(async () => h?.close());

  const call = (who: string, method: 'GET' | 'POST', url: string, payload?: object) =>
    h.inject({ method, url, ...(payload ? { payload } : {}) }, tokens[who]);

  it.each([
    // who, what, expected status
    ['operator', 'mint in another project', 201],
    ['adminA', 'mint in its project', 201],
    ['adminA', 'mint in another project', 403],
    ['adminB', 'mint in its project', 201],
    ['memberA', 'mint in its project', 403],
    ['agentA', 'mint in its project', 403],
  ] as const)('%s: %s → %i', async (who, what, status) => {
    const projectId = what === 'mint in another project' ? 'team-z' : who === 'adminB' ? 'team-b' : 'default';
    expect((await call(who, 'POST', '/v1/admin/tokens', { projectId, name: `by-${who}` })).statusCode).toBe(status);
  });

  it("lists its own project only, and revokes its own project's tokens only", async () => {
    const all = (await call('operator', 'GET', '/v1/admin/tokens')).json().tokens;
    expect(new Set(all.map((t: { projectId: string }) => t.projectId))).toEqual(
      new Set(['default', 'team-b', 'team-z']),
    );
    const mine = (await call('adminA', 'GET', '/v1/admin/tokens')).json().tokens;
    expect(new Set(mine.map((t: { projectId: string }) => t.projectId))).toEqual(new Set(['default']));
    expect((await call('adminA', 'GET', '/v1/admin/tokens?projectId=team-b')).statusCode).toBe(403);
    expect(
      (await call('operator', 'GET', '/v1/admin/tokens?projectId=team-b'))
        .json()
        .tokens.map((t: { name: string }) => t.name),
    ).toContain('adminB');
    // Another project's token is as good as missing to an admin; the operator may revoke it.
    expect((await call('adminA', 'POST', `/v1/admin/tokens/${ids.adminB}/revoke`)).statusCode).toBe(404);
    expect((await call('memberA', 'GET', '/v1/admin/tokens')).statusCode).toBe(403);
    expect((await call('agentA', 'GET', '/v1/admin/tokens')).statusCode).toBe(403);
    expect((await call('operator', 'POST', `/v1/admin/tokens/${ids.adminB}/revoke`)).statusCode).toBe(200);
    expect((await h.inject('/v1/sweeps', tokens.adminB)).statusCode).toBe(401);
  });

  it('lets an agent token reach no sweep route', async () => {
    for (const url of ['/v1/sweeps', `/v1/sweeps/${randomUUID()}`, `/v1/trials/${randomUUID()}`]) {
      expect((await call('agentA', 'GET', url)).statusCode, url).toBe(403);
    }
    expect((await call('agentA', 'POST', '/v1/sweeps', spec())).statusCode).toBe(403);
  });
});

describe('outages answer quickly and truthfully', () => {
  it('answers 503, not 500, when Postgres is out of connections', async () => {
    const db = await createTestDatabase('conns');
    const role = `lrsweep_limited_${Date.now()}`;
    await query(
      db.url,
      `CREATE ROLE ${role} LOGIN CONNECTION LIMIT 1; GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}`,
    );
    const url = new URL(db.url);
    url.username = role;
    const handle = createDb({ url: url.toString(), poolSize: 6 });
    const redis = createRedis('redis://127.0.0.1:6379', { use: 'requests' });
    const queue = createTrialQueue({ connection: redis, prefix: uniquePrefix() });
    const token = `lrs_conn-${randomUUID()}`;
    await query(db.url, "INSERT INTO projects (id) VALUES ('default') ON CONFLICT DO NOTHING");
    await query(
      db.url,
      "INSERT INTO api_tokens (id, project_id, name, token_hash, role) VALUES ($1, 'default', 'c', $2, 'admin')",
      [randomUUID(), hashToken(token)],
    );
    const app = await buildApp({ db: handle.prisma, redis, queue });
    try {
      // Hold the role's one connection, then ask for more at once.
      const holder = await import('pg').then((pg) => new pg.default.Client({ connectionString: url.toString() }));
      await holder.connect();
      try {
        const answers = await Promise.all(
          Array.from({ length: 4 }, () =>
            app.inject({ method: 'GET', url: '/v1/sweeps', headers: { authorization: `Bearer ${token}` } }),
          ),
        );
        const statuses = answers.map((a) => a.statusCode);
        expect(statuses, JSON.stringify(answers.map((a) => a.json()))).toEqual([503, 503, 503, 503]);
        expect(answers[0]!.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
        expect(answers[0]!.headers['retry-after']).toBe('5');
      } finally {
        await holder.end();
      }
    } finally {
      await app.close();
      await queue.close();
      redis.disconnect();
      await handle.close();
      await db.drop();
      await query(db.url.replace(/\/[^/]+$/, '/postgres'), `DROP ROLE IF EXISTS ${role}`).catch(() => {});
    }
  });

  it('with Redis frozen: requests answer, a submit answers 201 "pending" within seconds and is delivered once Redis is back', async () => {
    const own = await startOwnRedis();
    const db = await createTestDatabase('frozen');
    const handle = createDb({ url: db.url });
    const redis = createRedis(own.url, { use: 'requests', commandTimeoutMs: 1000 });
    redis.on('error', () => {});
    const prefix = uniquePrefix();
    const queue = createTrialQueue({ connection: redis, prefix });
    const app = await buildApp({ db: handle.prisma, redis, queue });
    const token = `lrs_frozen-${randomUUID()}`;
    await ensureBootstrapToken(handle.prisma, token);
    const headers = { authorization: `Bearer ${token}` };
    try {
      own.freeze();
      let t0 = Date.now();
      expect((await app.inject({ method: 'GET', url: '/v1/sweeps', headers })).statusCode).toBe(200);
      expect(Date.now() - t0).toBeLessThan(3000);
      t0 = Date.now();
      const created = await app.inject({
        method: 'POST',
        url: '/v1/sweeps',
        headers,
        payload: spec({ grid: { baseLr: [0.01, 0.1], schedule: [{ kind: 'constant' }], seeds: 1 } }),
      });
      expect(Date.now() - t0).toBeLessThan(8000);
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({ delivery: 'pending', trialCount: 2 });
      // Readiness says what is wrong.
      const ready = await app.inject('/readyz');
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.postgres).toBe('ok');
      own.thaw();
      // Once Redis answers, the reconciler (every RECONCILE_INTERVAL_MS, errors retried next
      // time) delivers the pending trials, each exactly once.
      await eventually(
        'the reconciler delivers',
        async () => (await reconcileOnce({ db: handle.prisma, queue }).catch(() => -1)) >= 0,
        20_000,
        500,
      );
      expect(await reconcileOnce({ db: handle.prisma, queue })).toBe(0);
      const jobs = queue.queueOf({ projectId: 'default', pool: 'default' });
      expect(await jobs.count()).toBe(2);
      // The same Idempotency-Key never makes a twin, pending or not.
      const key = { ...headers, 'idempotency-key': 'frozen-once' };
      own.freeze();
      const a = await app.inject({ method: 'POST', url: '/v1/sweeps', headers: key, payload: spec({ name: 'twin' }) });
      const b = await app.inject({ method: 'POST', url: '/v1/sweeps', headers: key, payload: spec({ name: 'twin' }) });
      own.thaw();
      expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
      expect(b.json().id).toBe(a.json().id);
      expect(await handle.prisma.sweep.count({ where: { name: 'twin' } })).toBe(1);
    } finally {
      own.thaw();
      await app.close();
      await queue.close();
      redis.disconnect();
      await handle.close();
      await db.drop();
      await own.stop();
      await deletePrefix(prefix, own.url).catch(() => {});
    }
  });
});
