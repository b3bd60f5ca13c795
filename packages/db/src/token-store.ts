import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Caller, TokenRole } from '@lrsweep/contract';
import type { Db } from './create-db';

/** Tokens are stored as their sha256: a database leak does not leak usable tokens. */
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** A new random token: `lrs_` and 43 url-safe characters (256 bits). */
export const newToken = () => `lrs_${randomBytes(32).toString('base64url')}`;

/** The project a name refers to, made when it does not exist yet. */
export async function ensureProject(db: Db, projectId: string): Promise<void> {
  await db.project.upsert({ where: { id: projectId }, create: { id: projectId }, update: {} });
}

export interface NewToken {
  projectId: string;
  name: string;
  role?: Exclude<TokenRole, 'operator'>;
  /** Agent tokens: the pools they may serve. */
  pools?: string[];
  token?: string;
}

const tokenSelect = {
  id: true,
  projectId: true,
  name: true,
  role: true,
  pools: true,
  createdAt: true,
  revokedAt: true,
} as const;

/** Creates a token for a project (made if missing); the token is returned once and never stored. */
export async function createToken(db: Db, opts: NewToken) {
  await ensureProject(db, opts.projectId);
  const token = opts.token ?? newToken();
  const row = await db.apiToken.create({
    data: {
      id: randomUUID(),
      projectId: opts.projectId,
      name: opts.name,
      role: opts.role ?? 'member',
      pools: opts.pools ?? [],
      tokenHash: hashToken(token),
    },
    select: tokenSelect,
  });
  return { ...row, token };
}

/**
 * Makes `token` the operator token (LRSWEEP_BOOTSTRAP_TOKEN: every project) of project `default`,
 * for automated set-ups and the demo. Idempotent; a bootstrap token that was revoked stays revoked.
 */
export async function ensureBootstrapToken(db: Db, token: string): Promise<void> {
  await ensureProject(db, 'default');
  await db.apiToken.upsert({
    where: { tokenHash: hashToken(token) },
    create: {
      id: randomUUID(),
      projectId: 'default',
      name: 'bootstrap',
      role: 'operator',
      tokenHash: hashToken(token),
    },
    update: { role: 'operator' },
  });
}

/** Who a presented token is, or null when it is unknown or revoked. */
export async function authenticate(db: Db, token: string): Promise<Caller | null> {
  const t = await db.apiToken.findUnique({
    where: { tokenHash: hashToken(token) },
    select: { id: true, projectId: true, role: true, pools: true, revokedAt: true },
  });
  if (!t || t.revokedAt) return null;
  return { tokenId: t.id, projectId: t.projectId, role: t.role, pools: t.pools };
}

/** Who a token (by id) is now, read from Postgres (no cache), or null when it is unknown or revoked. */
export async function callerById(db: Db, tokenId: string): Promise<Caller | null> {
  const t = await db.apiToken.findUnique({
    where: { id: tokenId },
    select: { id: true, projectId: true, role: true, pools: true, revokedAt: true },
  });
  if (!t || t.revokedAt) return null;
  return { tokenId: t.id, projectId: t.projectId, role: t.role, pools: t.pools };
}

/** Revokes a token (of `projectId`, when given); revoking twice changes nothing. False when no such token exists. */
export async function revokeToken(db: Db, id: string, projectId?: string): Promise<boolean> {
  const t = await db.apiToken.findFirst({
    where: { id, ...(projectId ? { projectId } : {}) },
    select: { revokedAt: true },
  });
  if (!t) return false;
  if (!t.revokedAt) await db.apiToken.update({ where: { id }, data: { revokedAt: new Date() } });
  return true;
}

export async function listTokens(db: Db, projectId?: string) {
  return db.apiToken.findMany({
    where: projectId ? { projectId } : {},
    orderBy: { createdAt: 'asc' },
    select: tokenSelect,
  });
}
