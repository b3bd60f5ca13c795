import { z } from 'zod';

/**
 * Token roles. `operator` (the bootstrap token) acts across projects; `admin` manages its own
 * project's tokens and sweeps; `member` submits and reads its project's sweeps; `agent` claims
 * and reports trials of its pools in its project, and nothing else. Operators and admins may also
 * act as agents (of any pool of their project).
 */
export const tokenRoles = ['operator', 'admin', 'member', 'agent'] as const;
export type TokenRole = (typeof tokenRoles)[number];
export const tokenRoleSchema = z.enum(tokenRoles);

/** Who is calling, as the auth hook resolves a token. */
export interface Caller {
  tokenId: string;
  projectId: string;
  role: TokenRole;
  /** The pools an agent token may serve (empty for other roles: they may serve any). */
  pools: string[];
}

/**
 * What each role may do. Least privilege: the operator (the bootstrap token) acts as an admin of
 * its own project (`default`) and beyond it only where `crossProject` says (tokens of every
 * project, the whole fleet); another project's sweeps, trials and results answer it 404 like
 * anyone else (to act there, mint a token of that project).
 */
export const can = {
  /** Any valid token (the schedule preview: no project data). */
  anyToken: (_c: Caller) => true,
  /** Submit, cancel, retry, extend and delete sweeps; read sweeps, trials and results (its own project's). */
  useSweeps: (c: Caller) => c.role !== 'agent',
  /** Mint, list and revoke tokens (of its own project; an operator's of any). */
  manageTokens: (c: Caller) => c.role === 'operator' || c.role === 'admin',
  /** Tokens of every project, and the whole fleet: the operator only. Never another project's sweeps. */
  crossProject: (c: Caller) => c.role === 'operator',
  /** See the fleet (its project's agents, the built-in workers). */
  seeFleet: (c: Caller) => c.role !== 'agent',
  /** List its project's agents (an agent token: those of its pools). */
  listAgents: (_c: Caller) => true,
  /** Register, claim and report as an agent of some pool (which pool: `serve`). */
  actAsAgent: (c: Caller) => c.role !== 'member',
  /** Claim and report trials of `pool`. */
  serve: (c: Caller, pool: string) =>
    c.role === 'operator' || c.role === 'admin' || (c.role === 'agent' && c.pools.includes(pool)),
} as const;

/** The rules a route may declare (every one of `can`'s but the per-pool `serve` and the scope rule `crossProject`). */
export type RouteRuleName = Exclude<keyof typeof can, 'serve' | 'crossProject'>;

/**
 * Every /v1 route's rule, next to `can`: which of its rules a caller must pass (else 403), and
 * the scope of what the route names — `project`: the caller's project only (another project's
 * object answers 404, whatever the role); `tokens` / `fleet`: the caller's project, or every
 * project for the operator; `none`: no project data. The API applies them in one hook and
 * refuses (403) a route that declares none, so a route added later must declare its own here;
 * the README's token table is checked against this table.
 */
export const routeRules = {
  'POST /v1/sweeps': { may: 'useSweeps', scope: 'project' },
  'POST /v1/sweeps/validate': { may: 'useSweeps', scope: 'project' },
  'GET /v1/sweeps': { may: 'useSweeps', scope: 'project' },
  'GET /v1/sweeps/:id': { may: 'useSweeps', scope: 'project' },
  'DELETE /v1/sweeps/:id': { may: 'useSweeps', scope: 'project' },
  'POST /v1/sweeps/:id/cancel': { may: 'useSweeps', scope: 'project' },
  'POST /v1/sweeps/:id/retry': { may: 'useSweeps', scope: 'project' },
  'POST /v1/sweeps/:id/extend': { may: 'useSweeps', scope: 'project' },
  'GET /v1/sweeps/:id/trials': { may: 'useSweeps', scope: 'project' },
  'GET /v1/sweeps/:id/results': { may: 'useSweeps', scope: 'project' },
  'GET /v1/sweeps/:id/schedules': { may: 'useSweeps', scope: 'project' },
  'GET /v1/sweeps/:id/transfer': { may: 'useSweeps', scope: 'project' },
  'GET /v1/sweeps/:id/range-test': { may: 'useSweeps', scope: 'project' },
  'GET /v1/sweeps/:id/curves': { may: 'useSweeps', scope: 'project' },
  'GET /v1/trials/:id': { may: 'useSweeps', scope: 'project' },
  'GET /v1/trials/:id/attempts': { may: 'useSweeps', scope: 'project' },
  'GET /v1/trials/:id/metrics': { may: 'useSweeps', scope: 'project' },
  'POST /v1/schedules/preview': { may: 'anyToken', scope: 'none' },
  'POST /v1/admin/tokens': { may: 'manageTokens', scope: 'tokens' },
  'GET /v1/admin/tokens': { may: 'manageTokens', scope: 'tokens' },
  'POST /v1/admin/tokens/:id/revoke': { may: 'manageTokens', scope: 'tokens' },
  'GET /v1/workers': { may: 'seeFleet', scope: 'fleet' },
  'GET /v1/agents': { may: 'listAgents', scope: 'project' },
  'POST /v1/agents': { may: 'actAsAgent', scope: 'project' },
  'POST /v1/agents/:id/heartbeat': { may: 'actAsAgent', scope: 'project' },
  'POST /v1/agents/:id/claim': { may: 'actAsAgent', scope: 'project' },
  'POST /v1/trials/:id/lease': { may: 'actAsAgent', scope: 'project' },
  'POST /v1/trials/:id/updates': { may: 'actAsAgent', scope: 'project' },
  'POST /v1/trials/:id/evals': { may: 'actAsAgent', scope: 'project' },
  'POST /v1/trials/:id/checkpoints': { may: 'actAsAgent', scope: 'project' },
  'POST /v1/trials/:id/complete': { may: 'actAsAgent', scope: 'project' },
  'POST /v1/trials/:id/fail': { may: 'actAsAgent', scope: 'project' },
  'POST /v1/trials/:id/release': { may: 'actAsAgent', scope: 'project' },
  'POST /v1/trials/:id/param-groups': { may: 'actAsAgent', scope: 'project' },
  'GET /v1/trials/:id/lr': { may: 'actAsAgent', scope: 'project' },
  'GET /v1/trials/:id/rung': { may: 'actAsAgent', scope: 'project' },
  'POST /v1/trials/:id/rung': { may: 'actAsAgent', scope: 'project' },
  'GET /v1/pools/:pool/backlog': { may: 'actAsAgent', scope: 'project' },
  'POST /v1/pools/:pool/scaler': { may: 'actAsAgent', scope: 'project' },
  'DELETE /v1/pools/:pool/scaler': { may: 'actAsAgent', scope: 'project' },
} as const satisfies Record<string, { may: RouteRuleName; scope: 'project' | 'tokens' | 'fleet' | 'none' }>;
export type RouteKey = keyof typeof routeRules;

/** What a rule lets a role do, in words (the README's token table is checked against it). */
export const ruleWords: Record<RouteRuleName, string> = {
  anyToken: 'preview schedules',
  useSweeps: "submit, read, cancel, retry, extend and delete its project's sweeps, trials and results",
  manageTokens: "mint, list and revoke its project's tokens",
  seeFleet: "see the fleet (built-in workers, its project's agents)",
  listAgents: "list its project's agents (an agent token: of its pools)",
  actAsAgent: 'register agents, claim and report trials (an agent token: of its pools only)',
};
