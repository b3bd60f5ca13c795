// Who may call what: every /v1 route of /openapi.json × every role × an object of its own
// project and one of another, against the rules the contract declares (routeRules, can). And the
// README's token table says exactly what those rules say.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type Caller,
  can,
  type RouteRuleName,
  routeRules,
  ruleWords,
  type TokenRole,
  tokenRoles,
} from '@lrsweep/contract';
import { createToken } from '@lrsweep/db';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, createApiHarness } from './test-harness';

const spec = (name: string, runner?: object) => ({
  name,
  dataset: { name: 'mnist', trainSize: 100, testSize: 20 },
  model: { kind: 'mlp', hidden: [4] },
  training: { epochs: 1, batchSize: 50, evalEvery: 1 },
  grid: { baseLr: [0.1], schedule: [{ kind: 'constant' }], seeds: 1 },
  ...(runner ? { runner, training: { totalSteps: 10, evalEvery: 5 } } : {}),
});
const callerOf = (role: TokenRole): Caller => ({
  tokenId: role,
  projectId: 'default',
  role,
  pools: role === 'agent' ? ['ext'] : [],
});
const rules = routeRules as Record<string, { may: RouteRuleName; scope: 'project' | 'tokens' | 'fleet' | 'none' }>;

/** The README's token table row for a role, as the rules make it. */
function tableRow(role: TokenRole): string {
  const c = callerOf(role);
  const may = (Object.keys(ruleWords) as RouteRuleName[]).filter((r) => can[r](c)).map((r) => ruleWords[r]);
  const across = can.crossProject(c)
    ? "; beyond its project: every project's tokens and the whole fleet (another project's sweeps answer 404: mint a token there)"
    : '';
  return `| \`${role}\` | ${may.join('; ')}${across} |`;
}

describe('access: role × route × own or other project', () => {
  let h: ApiHarness;
  const tokens = {} as Record<TokenRole, string>;
  let otherAdmin: string;
  const own = {} as Record<'sweep' | 'trial' | 'extTrial' | 'agent', string>;
  const other = {} as typeof own;

  const as = (token: string, o: InjectOptions) => h.inject(o, token);
  const created = async (token: string, body: object) => {
    const r = await as(token, { method: 'POST', url: '/v1/sweeps', payload: body });
    expect(r.statusCode, r.body).toBe(201);
    return r.json().id as string;
  };
  const firstTrial = async (token: string, sweepId: string) =>
    (await as(token, { url: `/v1/sweeps/${sweepId}/trials` })).json().trials[0].id as string;

  beforeAll(async () => {
    h = await createApiHarness('access');
    tokens.operator = h.operator;
    tokens.admin = h.token;
    tokens.member = (
      await createToken(h.handle.prisma, { projectId: 'default', name: 'member', role: 'member' })
    ).token;
    tokens.agent = (
      await createToken(h.handle.prisma, { projectId: 'default', name: 'agent', role: 'agent', pools: ['ext'] })
    ).token;
    otherAdmin = (await createToken(h.handle.prisma, { projectId: 'other', name: 'other admin', role: 'admin' })).token;
    const otherAgent = (
      await createToken(h.handle.prisma, { projectId: 'other', name: 'other agent', role: 'agent', pools: ['ext'] })
    ).token;
    for (const [side, admin, agent] of [
      [own, tokens.admin, tokens.agent],
      [other, otherAdmin, otherAgent],
    ] as const) {
      side.sweep = await created(admin, spec('built-in'));
      side.trial = await firstTrial(admin, side.sweep);
      side.extTrial = await firstTrial(
        admin,
        await created(admin, spec('external', { kind: 'external', pool: 'ext' })),
      );
      side.agent = (
        await as(agent, { method: 'POST', url: '/v1/agents', payload: { name: 'a', pool: 'ext', protocolVersion: 2 } })
      ).json().agentId;
    }
  });
  afterAll(async () => h?.close());

  /** A request for `route` naming an object of `side` (a fresh one where the call changes it), with a valid body. */
  async function request(route: string, side: typeof own, project: 'default' | 'other'): Promise<InjectOptions> {
    const [method, path] = route.split(' ') as [InjectOptions['method'], string];
    const admin = project === 'default' ? tokens.admin : otherAdmin;
    let id = '';
    if (path.startsWith('/v1/sweeps/:id'))
      id =
        ['DELETE', 'POST'].includes(method!) && !path.endsWith('/extend')
          ? await created(admin, spec('throwaway'))
          : side.sweep;
    else if (path.startsWith('/v1/trials/:id'))
      id = method === 'GET' && !path.endsWith('/lr') && !path.endsWith('/rung') ? side.trial : side.extTrial;
    else if (path.startsWith('/v1/agents/:id')) id = side.agent;
    else if (path.startsWith('/v1/admin/tokens/:id'))
      id = (await createToken(h.handle.prisma, { projectId: project, name: 'to revoke' })).id;
    const url = path.replace(':id', id).replace(':pool', 'ext');
    const fence = { attempt: 1, leaseToken: 'not-the-lease-token' };
    const bodies: Record<string, object> = {
      'POST /v1/sweeps': spec('new'),
      'POST /v1/sweeps/validate': spec('checked'),
      'POST /v1/sweeps/:id/extend': { seeds: [7] },
      'POST /v1/schedules/preview': { schedule: { kind: 'constant' }, baseLr: 0.1, totalSteps: 10 },
      'POST /v1/admin/tokens': { projectId: project, name: 'minted' },
      'POST /v1/agents': { name: 'reg', pool: 'ext', protocolVersion: 2 },
      'POST /v1/agents/:id/heartbeat': {},
      'POST /v1/agents/:id/claim': { waitMs: 0 },
      'POST /v1/trials/:id/lease': fence,
      'POST /v1/trials/:id/updates': { ...fence, updates: [{ step: 0, lr: 0.1, loss: 1 }] },
      'POST /v1/trials/:id/evals': { ...fence, step: 1, metrics: { val_loss: 1 } },
      'POST /v1/trials/:id/checkpoints': { ...fence, step: 0, uri: 'x' },
      'POST /v1/trials/:id/complete': fence,
      'POST /v1/trials/:id/fail': { ...fence, message: 'x' },
      'POST /v1/trials/:id/release': fence,
      'POST /v1/pools/:pool/scaler': { holder: 'scaler-1' },
      'POST /v1/trials/:id/param-groups': { ...fence, groups: [{ name: 'all', lrMultiplier: 1 }] },
      'POST /v1/trials/:id/rung': { ...fence, index: 0, cooldown: [], metrics: { val_loss: 1 } },
    };
    const query =
      route === 'GET /v1/trials/:id/lr' || route === 'GET /v1/trials/:id/rung'
        ? '?attempt=1&leaseToken=x'
        : route === 'GET /v1/admin/tokens'
          ? `?projectId=${project}`
          : route === 'DELETE /v1/pools/:pool/scaler'
            ? '?holder=scaler-1'
            : '';
    return {
      method,
      url: url + query,
      ...(bodies[route] ? { payload: bodies[route] } : method === 'POST' ? { payload: {} } : {}),
    };
  }

  it('declares a rule for every /v1 route of /openapi.json, and no rule for a route that does not exist', async () => {
    const doc = (await h.inject('/openapi.json')).json() as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths)
      .filter(([p]) => p.startsWith('/v1/'))
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`));
    expect(routes.sort()).toEqual(Object.keys(rules).sort());
  });

  it('grants each route to exactly these roles (a rule changed by mistake fails here)', () => {
    const everyone = 'operator admin member agent';
    const people = 'operator admin member';
    const agents = 'operator admin agent';
    const granted = Object.fromEntries(
      Object.entries(rules).map(([r, x]) => [r, tokenRoles.filter((role) => can[x.may](callerOf(role))).join(' ')]),
    );
    expect(granted).toEqual({
      ...Object.fromEntries(
        Object.keys(rules)
          .filter(
            (r) => /\/v1\/(sweeps|trials\/:id($|\/attempts|\/metrics))/.test(r) && !r.startsWith('POST /v1/trials'),
          )
          .map((r) => [r, people]),
      ),
      'POST /v1/schedules/preview': everyone,
      'POST /v1/admin/tokens': 'operator admin',
      'GET /v1/admin/tokens': 'operator admin',
      'POST /v1/admin/tokens/:id/revoke': 'operator admin',
      'GET /v1/workers': people,
      'GET /v1/agents': everyone,
      ...Object.fromEntries(
        Object.keys(rules)
          .filter(
            (r) =>
              /^POST \/v1\/(agents|trials\/:id\/)/.test(r) ||
              r === 'GET /v1/trials/:id/lr' ||
              r === 'GET /v1/trials/:id/rung' ||
              r.includes('/v1/pools/'),
          )
          .map((r) => [r, agents]),
      ),
    });
    expect(Object.keys(granted)).toHaveLength(40);
  });

  it("answers each role on each route as its rule says: 403 without the rule, 404 for another project's object, neither for its own", async () => {
    const problems: string[] = [];
    for (const route of Object.keys(rules)) {
      const rule = rules[route]!;
      for (const role of tokenRoles) {
        const allowed = can[rule.may](callerOf(role));
        for (const project of ['default', 'other'] as const) {
          // Routes that name no object are checked once, on the caller's project (listing scope is checked below).
          if (
            project === 'other' &&
            !route.includes(':id') &&
            !['POST /v1/admin/tokens', 'GET /v1/admin/tokens'].includes(route)
          )
            continue;
          const res = await as(tokens[role], await request(route, project === 'default' ? own : other, project));
          let want: string;
          if (!allowed) want = '403';
          else if (project === 'default') want = 'not 401/403/404';
          else if (rule.scope === 'tokens')
            want = can.crossProject(callerOf(role)) ? 'not 401/403/404' : route.includes(':id') ? '404' : '403';
          else want = '404';
          const got = res.statusCode;
          const ok = want === 'not 401/403/404' ? ![401, 403, 404].includes(got) : String(got) === want;
          if (!ok)
            problems.push(`${role} ${route} (${project} project): ${got} ${res.body.slice(0, 160)}, wanted ${want}`);
        }
      }
    }
    expect(problems).toEqual([]);
  }, 120_000);

  it("lists only the caller's project (the operator included), except tokens and the fleet for the operator", async () => {
    for (const role of ['operator', 'admin', 'member'] as const) {
      const sweeps = (await as(tokens[role], { url: '/v1/sweeps?limit=100' })).json().sweeps as { id: string }[];
      expect(sweeps.map((s) => s.id)).toContain(own.sweep);
      expect(sweeps.map((s) => s.id)).not.toContain(other.sweep);
      const agents = (await as(tokens[role], { url: '/v1/agents' })).json().agents as { id: string }[];
      expect(agents.map((a) => a.id)).toContain(own.agent);
      expect(agents.map((a) => a.id)).not.toContain(other.agent);
    }
    const fleet = async (token: string) =>
      ((await as(token, { url: '/v1/workers' })).json().workers as { id: string }[]).map((w) => w.id);
    expect(await fleet(tokens.operator)).toEqual(expect.arrayContaining([own.agent, other.agent]));
    expect(await fleet(tokens.admin)).toContain(own.agent);
    expect(await fleet(tokens.admin)).not.toContain(other.agent);
    const listed = async (token: string) =>
      ((await as(token, { url: '/v1/admin/tokens' })).json().tokens as { projectId: string }[]).map((t) => t.projectId);
    expect(new Set(await listed(tokens.operator))).toEqual(new Set(['default', 'other']));
    expect(new Set(await listed(tokens.admin))).toEqual(new Set(['default']));
  });

  it("the README's token table says exactly what the rules say", () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../../README.md'), 'utf8');
    // Cells compared trimmed: a table's column padding is not what it says.
    const cells = (row: string) =>
      row
        .split('|')
        .map((c) => c.trim())
        .filter(Boolean);
    const table = readme.split('\n').filter((l) => /^\| `(operator|admin|member|agent)` +\|/.test(l));
    expect(table.map(cells)).toEqual(tokenRoles.map(tableRow).map(cells));
  });
});
