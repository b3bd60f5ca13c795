// Agent protocol 2 through the real API, Postgres, Redis and the Python SDK, tried as a hostile
// agent would: fenced writes (lease tokens), revocation during a long poll, bounded inputs and
// scoped, paged views, the documented 10 000-row batch, throttled agents that live, and no
// lockout of honest callers. (Deleting a sweep under a training agent is a flow every SDK runs:
// test/support/agent-flows.ts.)
import { apiClient, query, requirement, sdkPython, type Stack, startAgentProcess, startStack } from '@lrsweep/testkit';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const python = sdkPython(11);
const needed = requirement(
  'python3.11',
  python !== null,
  "install Python 3.11 (pyenv install 3.11, or Debian's python3.11), then npm test makes .venv-sdk-3.11 with the lrsweep wheel",
);

const external = (name: string, pool: string, o: { totalSteps?: number; trials?: number } = {}) => ({
  name,
  runner: { kind: 'external', pool, config: { features: 6 } },
  training: { totalSteps: o.totalSteps ?? 60, evalEvery: 20 },
  grid: { baseLr: [0.1], schedule: [{ kind: 'constant' }], seeds: o.trials ?? 1 },
  objective: { metric: 'val_loss', mode: 'min' },
});

/** Every HTTP answer of the API with this status, counted from its Prometheus histogram. */
async function answered(url: string, status: number): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^lrsweep_http_request_duration_seconds_count\{([^}]*)\} (\d+)/gm))
    if (m[1]!.includes(`status_code="${status}"`)) n += Number(m[2]);
  return n;
}

describe.skipIf(needed.skip)('agent protocol 2', () => {
  let stack: Stack;
  const admin = () => stack.client;
  const agentToken = async (name: string, pools: string[]) =>
    (await stack.lrsweep.createToken({ projectId: 'default', name, role: 'agent', pools })).token;
  const submit = async (body: object) => {
    const r = await admin().post('/v1/sweeps', body);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const trials = (await admin().get(`/v1/sweeps/${r.body.id}/trials?limit=100`)).body.trials as { id: string }[];
    return { sweepId: r.body.id as string, trialIds: trials.map((t) => t.id) };
  };
  const register = async (client: ReturnType<typeof apiClient>, pool: string, name = 'by-hand') => {
    const r = await client.post('/v1/agents', { name, pool, protocolVersion: 2 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.agentId as string;
  };

  beforeAll(async () => {
    needed.assert();
    stack = await startStack('protocol-2', {
      workers: 0,
      env: {
        AGENT_LEASE_MS: '4000',
        AGENT_HEARTBEAT_MS: '1000',
        AGENT_STALL_MS: '30000',
        RECONCILE_INTERVAL_MS: '700',
        // Short windows, so a throttled agent waits seconds, not a minute; registrations free for the paging test.
        AGENT_RATE_WINDOW_S: '2',
        AGENT_REGISTRATIONS_PER_WINDOW: '10000',
        AGENT_TOKEN_REPORTS_PER_WINDOW: '40',
      },
    });
  }, 120_000);
  afterAll(async () => stack?.stop());

  it('a same-pool token without the lease token gets 409 LEASE_MISMATCH on each of the eight calls, and nothing changes', async () => {
    const pool = 'fenced';
    const holder = apiClient(stack.api.url, await agentToken('holder', [pool]));
    const intruder = apiClient(stack.api.url, await agentToken('intruder', [pool]));
    const { trialIds } = await submit(external('fenced', pool));
    const id = trialIds[0]!;
    const me = await register(holder, pool);
    const claim = (await holder.post(`/v1/agents/${me}/claim`, { waitMs: 5000 })).body.trial;
    expect(claim).toMatchObject({ id, attempt: 1, leaseToken: expect.any(String) });
    const { leaseToken } = claim as { leaseToken: string };
    // The holder's own writes: rows, an evaluation, a marker.
    const rows = Array.from({ length: 20 }, (_, step) => ({ step, lr: 0.1, loss: 0.5 }));
    expect((await holder.post(`/v1/trials/${id}/updates`, { attempt: 1, leaseToken, updates: rows })).status).toBe(200);
    expect(
      (await holder.post(`/v1/trials/${id}/evals`, { attempt: 1, leaseToken, step: 20, metrics: { val_loss: 0.4 } }))
        .status,
    ).toBe(200);
    expect(
      (await holder.post(`/v1/trials/${id}/checkpoints`, { attempt: 1, leaseToken, step: 19, uri: 'mine' })).status,
    ).toBe(200);

    const snapshot = async () => ({
      trial: await query(
        stack.db.url,
        'SELECT status, attempt, lease_expires_at, checkpoint_step, checkpoint_path, failures, deliveries, finished_at, error FROM trials WHERE id = $1',
        [id],
      ),
      updates: await query(
        stack.db.url,
        'SELECT count(*)::int AS n, max(step) AS last FROM update_metrics WHERE trial_id = $1',
        [id],
      ),
      evals: await query(stack.db.url, 'SELECT count(*)::int AS n FROM evaluations WHERE trial_id = $1', [id]),
    });
    const before = await snapshot();
    const more = Array.from({ length: 20 }, (_, i) => ({ step: 20 + i, lr: 0.1, loss: 0.5 }));
    for (const [client, fence] of [
      [intruder, { attempt: 1 }],
      [intruder, { attempt: 1, leaseToken: `${leaseToken.slice(0, -2)}AA` }],
      [holder, { attempt: 1 }],
      [intruder, { attempt: 2, leaseToken }],
    ] as const) {
      const calls = [
        client.post(`/v1/trials/${id}/lease`, fence),
        client.post(`/v1/trials/${id}/updates`, { ...fence, updates: more }),
        client.post(`/v1/trials/${id}/evals`, { ...fence, step: 40, metrics: { val_loss: 0.3 } }),
        client.post(`/v1/trials/${id}/checkpoints`, { ...fence, step: 19, uri: 'theirs' }),
        client.post(`/v1/trials/${id}/complete`, fence),
        client.post(`/v1/trials/${id}/fail`, { ...fence, message: 'not mine', retryable: false }),
        client.post(`/v1/trials/${id}/release`, fence),
        client.get(
          `/v1/trials/${id}/lr?attempt=${fence.attempt}${'leaseToken' in fence ? `&leaseToken=${encodeURIComponent(fence.leaseToken)}` : ''}`,
        ),
      ];
      for (const r of await Promise.all(calls))
        expect(r, JSON.stringify(r.body)).toMatchObject({ status: 409, body: { code: 'LEASE_MISMATCH' } });
    }
    expect(await snapshot()).toEqual(before);
    // The holder, unaffected, finishes.
    expect(
      (
        await holder.post(`/v1/trials/${id}/updates`, {
          attempt: 1,
          leaseToken,
          updates: more.concat(Array.from({ length: 20 }, (_, i) => ({ step: 40 + i, lr: 0.1, loss: 0.5 }))),
        })
      ).status,
    ).toBe(200);
    expect(await holder.post(`/v1/trials/${id}/complete`, { attempt: 1, leaseToken })).toMatchObject({
      status: 200,
      body: { status: 'completed' },
    });
    // A retried completion (its answer lost) answers the same; then every write says why it must stop.
    expect(await holder.post(`/v1/trials/${id}/complete`, { attempt: 1, leaseToken })).toMatchObject({
      status: 200,
      body: { status: 'completed' },
    });
    expect(await holder.post(`/v1/trials/${id}/lease`, { attempt: 1, leaseToken })).toMatchObject({
      status: 409,
      body: { code: 'STALE_ATTEMPT', reason: 'ended' },
    });
  });

  it('a token revoked during an open 18-s claim: the poll ends with 401 within 1 s, and no trial is claimed or spent', async () => {
    const pool = 'revoked';
    const doomed = await stack.lrsweep.createToken({
      projectId: 'default',
      name: 'doomed',
      role: 'agent',
      pools: [pool],
    });
    const client = apiClient(stack.api.url, doomed.token);
    const me = await register(client, pool);
    const poll = client.post(`/v1/agents/${me}/claim`, { waitMs: 18_000 }).then((r) => ({ ...r, at: Date.now() }));
    await new Promise((r) => setTimeout(r, 1000));
    const revokedAt = Date.now();
    expect((await admin().post(`/v1/admin/tokens/${doomed.id}/revoke`)).status).toBe(200);
    const answer = await poll;
    expect(answer).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    expect(answer.at - revokedAt).toBeLessThan(1000);

    // Revoked where no API process hears of it (straight in Postgres, as another deployment's
    // tool might): the claim checks Postgres before it hands the trial out, and puts it back.
    const quiet = await stack.lrsweep.createToken({
      projectId: 'default',
      name: 'quiet',
      role: 'agent',
      pools: [pool],
    });
    const quietClient = apiClient(stack.api.url, quiet.token);
    const quietAgent = await register(quietClient, pool);
    const quietPoll = quietClient.post(`/v1/agents/${quietAgent}/claim`, { waitMs: 18_000 });
    await new Promise((r) => setTimeout(r, 500));
    await query(stack.db.url, 'UPDATE api_tokens SET revoked_at = now() WHERE id = $1', [quiet.id]);
    const { trialIds } = await submit(external('revoked-pool', pool));
    expect(await quietPoll).toMatchObject({ status: 401 });
    const [t] = await query<{ status: string; attempt: number; failures: number }>(
      stack.db.url,
      'SELECT status, attempt, failures FROM trials WHERE id = $1',
      [trialIds[0]],
    );
    expect(t).toEqual({ status: 'queued', attempt: 0, failures: 0 });
    // The delivery went back to the queue: a valid agent claims it, as the first attempt.
    const valid = apiClient(stack.api.url, await agentToken('valid', [pool]));
    const validAgent = await register(valid, pool);
    expect((await valid.post(`/v1/agents/${validAgent}/claim`, { waitMs: 10_000 })).body.trial).toMatchObject({
      id: trialIds[0],
      attempt: 1,
    });
  });

  it("200 registrations with 10 000 labels each are refused naming the field, /readyz answers meanwhile; pages are bounded and scoped to the token's pools", async () => {
    const a = apiClient(stack.api.url, await agentToken('pool-a', ['pool-a']));
    const labels = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 'v']));
    let flooding = true;
    const ready: number[] = [];
    const notReady: string[] = [];
    const probe = (async () => {
      while (flooding) {
        const t0 = Date.now();
        // A probe that times out or fails is recorded (and fails the test below), never thrown here.
        const status = await fetch(`${stack.api.url}/readyz`, { signal: AbortSignal.timeout(5000) }).then(
          (r) => r.status,
          (err: Error) => err.name,
        );
        if (status !== 200) notReady.push(String(status));
        ready.push(Date.now() - t0);
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    const answers: { status: number; body: { code: string; message: string } }[] = [];
    for (let i = 0; i < 200; i += 20) {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 20 }, (_, k) =>
            a.post('/v1/agents', { name: `flood-${i + k}`, pool: 'pool-a', labels, protocolVersion: 2 }),
          ),
        )),
      );
    }
    flooding = false;
    await probe;
    expect(answers.map((r) => r.status).filter((c) => c !== 400 && c !== 413)).toEqual([]);
    expect(answers.every((r) => /labels: at most 32 labels/.test(r.body.message))).toBe(true);
    expect(notReady).toEqual([]);
    expect(ready.length).toBeGreaterThan(0);
    expect(Math.max(...ready)).toBeLessThan(2000);
    expect((await a.get('/v1/agents')).body.agents).toEqual([]);
    // 33 labels: refused too; 32 short ones are fine.
    const over = await a.post('/v1/agents', {
      name: 'many',
      pool: 'pool-a',
      protocolVersion: 2,
      labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])),
    });
    expect(over).toMatchObject({ status: 400, body: { code: 'SPEC_INVALID' } });
    expect(over.body.message).toMatch(/labels: at most 32 labels/);

    // 130 agents of pool A, 2 of pool B: pages of at most 100, every agent once; B's token sees only B's.
    for (let i = 0; i < 130; i += 26)
      await Promise.all(Array.from({ length: 26 }, (_, k) => register(a, 'pool-a', `a-${i + k}`)));
    const b = apiClient(stack.api.url, await agentToken('pool-b', ['pool-b']));
    const bAgents = [await register(b, 'pool-b', 'b-1'), await register(b, 'pool-b', 'b-2')];
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { status: number; body: { agents: { id: string; pool: string }[]; nextCursor: string | null } } =
        await a.get(`/v1/agents${cursor ? `?cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.agents.length).toBeLessThanOrEqual(100);
      expect(page.body.agents.every((x) => x.pool === 'pool-a')).toBe(true);
      seen.push(...page.body.agents.map((x) => x.id));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(2);
    expect(new Set(seen).size).toBe(130);
    expect(seen).toHaveLength(130);
    const bView = (await b.get('/v1/agents')).body;
    expect(bView.agents.map((x: { id: string }) => x.id).sort()).toEqual([...bAgents].sort());
    expect((await a.get('/v1/agents?limit=101')).status).toBe(400);
    // The operator's fleet view pages the same way.
    const fleet = (await admin().get('/v1/workers?limit=50')).body;
    expect(fleet.workers).toHaveLength(50);
    expect(fleet.nextCursor).toEqual(expect.any(String));
  }, 120_000);

  it('a raw-HTTP batch of 10 000 rows (17-digit floats) is accepted; 10 001 rows get a 400 naming the limit', async () => {
    const pool = 'batch';
    const client = apiClient(stack.api.url, await agentToken('batch', [pool]));
    const { trialIds } = await submit(external('batch', pool, { totalSteps: 20_000 }));
    const me = await register(client, pool);
    const claim = (await client.post(`/v1/agents/${me}/claim`, { waitMs: 5000 })).body.trial as {
      id: string;
      leaseToken: string;
    };
    expect(claim.id).toBe(trialIds[0]);
    const lr = (
      await client.get(
        `/v1/trials/${claim.id}/lr?attempt=1&from=0&count=10000&leaseToken=${encodeURIComponent(claim.leaseToken)}`,
      )
    ).body.lr as number[];
    const rows = lr.map((rate, step) => ({ step, lr: rate, loss: -Math.PI * 1e-300 * (step + 1) }));
    const body = JSON.stringify({ attempt: 1, leaseToken: claim.leaseToken, updates: rows });
    expect(body.length).toBeGreaterThan(262_144);
    const ok = await client.post(`/v1/trials/${claim.id}/updates`, body);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const [n] = await query<{ n: number }>(
      stack.db.url,
      'SELECT count(*)::int AS n FROM update_metrics WHERE trial_id = $1',
      [claim.id],
    );
    expect(n!.n).toBe(10_000);
    const tooMany = [...rows.map((r) => ({ ...r, step: r.step + 10_000 })), { step: 19_999, lr: 0.1, loss: 0.5 }];
    const refused = await client.post(`/v1/trials/${claim.id}/updates`, {
      attempt: 1,
      leaseToken: claim.leaseToken,
      updates: tooMany,
    });
    expect(refused).toMatchObject({ status: 400, body: { code: 'SPEC_INVALID' } });
    expect(refused.body.message).toMatch(/updates.*10000/);
    // Other routes keep BODY_LIMIT.
    const big = await client.post(
      `/v1/trials/${claim.id}/evals`,
      `{"attempt":1,"leaseToken":"${claim.leaseToken}","step":1,"metrics":{"val_loss":1},"pad":"${'x'.repeat(300_000)}"}`,
    );
    expect(big).toMatchObject({ status: 413, body: { code: 'BODY_TOO_LARGE' } });
  });

  it('ten Python agents sharing one token, throttled (429), finish a 40-trial sweep: every trial at attempt 1, no agent exiting', async () => {
    const pool = 'throttled';
    const token = await agentToken('shared', [pool]);
    const ckptDir = mkdtempSync(join(tmpdir(), 'lrsweep-throttled-'));
    const throttledBefore = await answered(stack.api.url, 429);
    const { sweepId, trialIds } = await submit(external('throttled', pool, { trials: 40 }));
    expect(trialIds).toHaveLength(40);
    const agents = Array.from({ length: 10 }, (_, i) =>
      startAgentProcess(python!, ['test/fixtures/agents/logreg.py'], {
        LRSWEEP_API_URL: `${stack.api.url}/v1`,
        LRSWEEP_TOKEN: token,
        LOGREG_POOL: pool,
        LOGREG_NAME: `shared-${i}`,
        LOGREG_CKPT_DIR: ckptDir,
        LOGREG_IDLE: '8',
      }),
    );
    const sweep = await admin().waitForSweep(sweepId, 180_000);
    // No agent exited while the sweep ran.
    expect(agents.map((p) => p.proc.exitCode)).toEqual(Array(10).fill(null));
    expect(sweep).toMatchObject({ status: 'completed', counts: { completed: 40 } });
    const attempts = await query<{ attempt: number; failures: number }>(
      stack.db.url,
      'SELECT attempt, failures FROM trials WHERE sweep_id = $1',
      [sweepId],
    );
    expect(attempts.every((t) => t.attempt === 1 && t.failures === 0)).toBe(true);
    expect(await answered(stack.api.url, 429)).toBeGreaterThan(throttledBefore);
    expect(await Promise.all(agents.map((p) => p.exited))).toEqual(Array(10).fill(0));
    for (const p of agents) {
      expect(p.lines.filter((l) => / ended: |Traceback/.test(l))).toEqual([]);
      expect(p.lines.at(-1)).toBe('agent done');
    }
  }, 240_000);

  it('200 bad tokens from one address, then a valid token from it: served; the 201st bad token: 429 with Retry-After', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 200; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, k) =>
          apiClient(stack.api.url, `lrs_${String(i + k).padStart(43, 'g')}`).get('/v1/sweeps'),
        ),
      );
      codes.push(...batch.map((r) => r.status));
    }
    expect(codes.every((c) => c === 401 || c === 429)).toBe(true);
    expect(codes).toContain(429);
    expect((await admin().get('/v1/sweeps')).status).toBe(200);
    const agent = apiClient(stack.api.url, await agentToken('after-guessing', ['guess']));
    expect((await agent.post('/v1/agents', { name: 'honest', pool: 'guess', protocolVersion: 2 })).status).toBe(201);
    const last = await apiClient(stack.api.url, `lrs_${'z'.repeat(43)}`).get('/v1/sweeps');
    expect(last).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
