// Authentication, project isolation, revocation, rate limits, body limits, errors that leak
// nothing, token redaction, security headers, CORS, idempotent submission, the tokens command.
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { createToken } from '@lrsweep/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, createApiHarness } from './test-harness';
import { query } from '@lrsweep/testkit';
import { buildApp } from './app';
import { createApiLogger } from './logger';

const spec = (name = 'sec') => ({
  name,
  dataset: { name: 'synthetic', trainSize: 100, testSize: 50 },
  training: { epochs: 1, batchSize: 50, evalEvery: 1 },
  grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], seeds: 2 },
});

describe('security', () => {
  let h: ApiHarness;
  let member: string;
  let otherProject: string;
  beforeAll(async () => {
    // Revocations here take effect at once (the token cache is tested in hardening.test.ts).
    h = await createApiHarness('sec', { tokenCacheMs: 0 });
    member = (await createToken(h.handle.prisma, { projectId: 'default', name: 'member' })).token;
    otherProject = (await createToken(h.handle.prisma, { projectId: 'team-b', name: 'b' })).token;
  });
  afterAll(async () => h?.close());

  it('answers 401 without a token, with a malformed one and with an unknown one', async () => {
    for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer lrs_nope' }]) {
      const r = await h.app.inject({ method: 'GET', url: '/v1/sweeps', headers });
      expect(r.statusCode).toBe(401);
      expect(r.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    }
    expect((await h.app.inject('/healthz')).statusCode).toBe(200);
  });

  it("hides another project's sweeps and trials (404) and lists only the token's own", async () => {
    const created = (await h.inject({ method: 'POST', url: '/v1/sweeps', payload: spec('mine') })).json();
    const trial = (await h.inject(`/v1/sweeps/${created.id}/trials`)).json().trials[0];
    for (const url of [
      `/v1/sweeps/${created.id}`,
      `/v1/sweeps/${created.id}/results`,
      `/v1/sweeps/${created.id}/trials`,
      `/v1/trials/${trial.id}`,
      `/v1/trials/${trial.id}/metrics`,
    ]) {
      const r = await h.inject(url, otherProject);
      expect(r.statusCode, url).toBe(404);
    }
    for (const action of ['cancel', 'retry']) {
      expect(
        (await h.inject({ method: 'POST', url: `/v1/sweeps/${created.id}/${action}` }, otherProject)).statusCode,
      ).toBe(404);
    }
    expect((await h.inject('/v1/sweeps', otherProject)).json().total).toBe(0);
    expect((await h.inject(`/v1/sweeps/${created.id}`, member)).statusCode).toBe(200);
  });

  it('creates and revokes tokens through admin routes; a revoked token gets 401; members cannot administer', async () => {
    const c = await h.inject(
      { method: 'POST', url: '/v1/admin/tokens', payload: { projectId: 'team-c', name: 'ci' } },
      h.operator,
    );
    expect(c.statusCode).toBe(201);
    const { id, token } = c.json();
    expect(token).toMatch(/^lrs_/);
    expect((await h.inject('/v1/sweeps', token)).statusCode).toBe(200);
    const listed = (await h.inject('/v1/admin/tokens?projectId=team-c', h.operator)).json().tokens;
    expect(listed).toEqual([expect.objectContaining({ id, name: 'ci', role: 'member', pools: [], revokedAt: null })]);
    expect(JSON.stringify(listed)).not.toContain(token);
    expect((await h.inject({ method: 'POST', url: `/v1/admin/tokens/${id}/revoke` }, h.operator)).statusCode).toBe(200);
    expect((await h.inject({ method: 'POST', url: `/v1/admin/tokens/${id}/revoke` }, h.operator)).statusCode).toBe(200);
    const after = await h.inject('/v1/sweeps', token);
    expect(after.statusCode).toBe(401);
    expect(
      (await h.inject({ method: 'POST', url: '/v1/admin/tokens', payload: { projectId: 'x', name: 'y' } }, member))
        .statusCode,
    ).toBe(403);
    const stored = await query<{ token_hash: string }>(h.db.url, 'SELECT token_hash FROM api_tokens WHERE id = $1', [
      id,
    ]);
    expect(stored[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored[0]!.token_hash).not.toContain(token);
  });

  it('limits each token to its rate (429) without limiting other tokens', async () => {
    const a = await buildApp({ db: h.handle.prisma, redis: h.redis, queue: h.queue, rateLimitPerMinute: 5 });
    const { token } = await createToken(h.handle.prisma, { projectId: 'rate', name: 'r' });
    const codes: number[] = [];
    for (let i = 0; i < 7; i++)
      codes.push(
        (await a.inject({ method: 'GET', url: '/v1/sweeps', headers: { authorization: `Bearer ${token}` } }))
          .statusCode,
      );
    const other = await a.inject({ method: 'GET', url: '/v1/sweeps', headers: { authorization: `Bearer ${member}` } });
    const limited = await a.inject({ method: 'GET', url: '/v1/sweeps', headers: { authorization: `Bearer ${token}` } });
    await a.close();
    expect(codes).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(other.statusCode).toBe(200);
  });

  it('answers 413 to an oversized body', async () => {
    const r = await h.inject({
      method: 'POST',
      url: '/v1/sweeps',
      payload: { ...spec(), name: 'x'.repeat(2_000_000) },
    });
    expect(r.statusCode).toBe(413);
  });

  it('a forced 500 returns no stack trace, SQL or internals, and logs it with the token redacted', async () => {
    const lines: string[] = [];
    // The API's own logger (main.ts builds it the same way), writing here.
    const logger = createApiLogger(
      'info',
      new Writable({ write: (chunk, _e, cb) => (lines.push(chunk.toString()), cb()) }),
    );
    const a = await buildApp({ db: h.handle.prisma, redis: h.redis, queue: h.queue, logger });
    await query(h.db.url, 'ALTER TABLE sweeps RENAME TO sweeps_gone');
    try {
      const r = await a.inject({ method: 'GET', url: '/v1/sweeps', headers: { authorization: `Bearer ${h.token}` } });
      expect(r.statusCode).toBe(500);
      expect(r.json()).toEqual({ code: 'INTERNAL', message: 'internal error' });
      expect(r.body).not.toMatch(/sweeps|SELECT|relation|at \w+ \(|\.ts:|prisma/i);
    } finally {
      await query(h.db.url, 'ALTER TABLE sweeps_gone RENAME TO sweeps');
      await a.close();
    }
    const log = lines.join('');
    expect(log).toContain('request failed');
    expect(log).not.toContain(h.token);
    // Wherever a token or an Authorization header is logged, the API's logger redacts it.
    lines.length = 0;
    logger.info(
      { token: h.token, req: { headers: { authorization: `Bearer ${h.token}` } }, created: { token: h.token } },
      'token minted',
    );
    expect(lines.join('')).toContain('token minted');
    expect(lines.join('')).not.toContain(h.token);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      token: '[redacted]',
      req: { headers: { authorization: '[redacted]' } },
      created: { token: '[redacted]' },
    });
  });

  it("keeps an agent's lease token out of the request log (it travels in the rate route's query string)", async () => {
    const lines: string[] = [];
    const logger = createApiLogger(
      'info',
      new Writable({ write: (chunk, _e, cb) => (lines.push(chunk.toString()), cb()) }),
    );
    const a = await buildApp({ db: h.handle.prisma, redis: h.redis, queue: h.queue, logger });
    try {
      const secret = 'lease-token-that-must-not-be-logged';
      const r = await a.inject({
        method: 'GET',
        url: `/v1/trials/00000000-0000-4000-8000-000000000000/lr?attempt=1&leaseToken=${secret}&from=0`,
        headers: { authorization: `Bearer ${h.token}` },
      });
      expect(r.statusCode).toBe(404);
      const log = lines.join('');
      expect(log).toContain('incoming request');
      expect(log).toContain('leaseToken=[redacted]&from=0');
      expect(log).not.toContain(secret);
    } finally {
      await a.close();
    }
  });

  it('sends security headers and keeps CORS closed unless origins are configured', async () => {
    const r = await h.inject({ method: 'GET', url: '/v1/sweeps', headers: { origin: 'https://evil.example' } });
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['content-security-policy']).toContain("default-src 'self'");
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
    const a = await buildApp({
      db: h.handle.prisma,
      redis: h.redis,
      queue: h.queue,
      corsOrigins: ['https://dash.example'],
    });
    const ok = await a.inject({
      method: 'OPTIONS',
      url: '/v1/sweeps',
      headers: { origin: 'https://dash.example', 'access-control-request-method': 'GET' },
    });
    const evil = await a.inject({
      method: 'OPTIONS',
      url: '/v1/sweeps',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    await a.close();
    expect(ok.headers['access-control-allow-origin']).toBe('https://dash.example');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('Idempotency-Key', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await createApiHarness('idem');
  });
  afterAll(async () => h?.close());
  const post = (key: string, body: object, token?: string) =>
    h.inject({ method: 'POST', url: '/v1/sweeps', headers: { 'idempotency-key': key }, payload: body }, token);

  it('returns the first sweep for a repeated key and 409 for the same key with another body', async () => {
    const first = await post('k-1', spec('a'));
    const again = await post('k-1', spec('a'));
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
    const conflict = await post('k-1', spec('b'));
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    expect(await h.handle.prisma.sweep.count()).toBe(1);
    expect(await h.jobs.count()).toBe(2);
  });

  it('holds per project, and two simultaneous requests make one sweep', async () => {
    const { token } = await createToken(h.handle.prisma, { projectId: 'other', name: 'o' });
    expect((await post('k-1', spec('a'), token)).statusCode).toBe(201);
    const [x, y] = await Promise.all([post('k-2', spec('c')), post('k-2', spec('c'))]);
    expect([x.statusCode, y.statusCode]).toEqual([201, 201]);
    expect(x.json().id).toBe(y.json().id);
    expect(await h.handle.prisma.sweep.count({ where: { name: 'c' } })).toBe(1);
  });

  it('forgets a key after 24 hours', async () => {
    const first = (await post('k-old', spec('d'))).json();
    await query(h.db.url, "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'k-old'");
    const later = (await post('k-old', spec('d'))).json();
    expect(later.id).not.toBe(first.id);
  });
});

describe('the tokens command', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await createApiHarness('cli', { tokenCacheMs: 0 });
  });
  afterAll(async () => h?.close());
  const run = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/tokens-cli.ts', ...args], {
      cwd: new URL('..', import.meta.url).pathname,
      env: { ...process.env, DATABASE_URL: h.db.url },
    });

  it('creates a working token, lists it and revokes it', async () => {
    const created = await run('create', '--project', 'cli-proj', '--name', 'laptop');
    const token = created.stdout.trim().split('\n').at(-1)!;
    const id = /created token ([0-9a-f-]{36})/.exec(created.stdout)![1]!;
    expect((await h.inject('/v1/sweeps', token)).statusCode).toBe(200);
    expect((await run('list', '--project', 'cli-proj')).stdout).toContain(`${id}  cli-proj`);
    expect((await run('revoke', id)).stdout).toContain(`revoked ${id}`);
    expect((await h.inject('/v1/sweeps', token)).statusCode).toBe(401);
    await expect(run('create', '--project', 'Bad Name', '--name', 'x')).rejects.toMatchObject({ code: 2 });
  });
});
