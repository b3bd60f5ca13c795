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

export const can = {
  /** Submit, cancel, retry, extend and delete sweeps; read sweeps, trials and results. */
  useSweeps: (c: Caller) => c.role !== 'agent',
  /** Mint, list and revoke tokens (of its own project; an operator's of any). */
  manageTokens: (c: Caller) => c.role === 'operator' || c.role === 'admin',
  /** Act on another project than its own. */
  crossProject: (c: Caller) => c.role === 'operator',
  /** Claim and report trials of `pool`. */
  serve: (c: Caller, pool: string) => c.role === 'operator' || c.role === 'admin' || (c.role === 'agent' && c.pools.includes(pool)),
} as const;
