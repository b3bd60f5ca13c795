import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from './create-db';

export interface TokenIdentity {
  tokenId: string;
  projectId: string;
  admin: boolean;
}

/** Tokens are stored as their sha256: a database leak does not leak usable tokens. */
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** A new random token: `lrs_` and 43 url-safe characters (256 bits). */
export const newToken = () => `lrs_${randomBytes(32).toString('base64url')}`;

/** The project a name refers to, made when it does not exist yet. */
export async function ensureProject(db: Db, projectId: string): Promise<void> {
  await db.project.upsert({ where: { id: projectId }, create: { id: projectId }, update: {} });
}

/** Creates a token for a project (made if missing); the token is returned once and never stored. */
export async function createToken(db: Db, opts: { projectId: string; name: string; admin?: boolean; token?: string }) {
  await ensureProject(db, opts.projectId);
  const token = opts.token ?? newToken();
  const row = await db.apiToken.create({
    data: { id: randomUUID(), projectId: opts.projectId, name: opts.name, admin: opts.admin ?? false, tokenHash: hashToken(token) },
  });
  return { id: row.id, token, projectId: row.projectId, name: row.name, admin: row.admin, createdAt: row.createdAt };
}

/**
 * Makes `token` an admin token of the project `default` (LRSWEEP_BOOTSTRAP_TOKEN): for automated
 * set-ups and the demo. Idempotent; a bootstrap token that was revoked stays revoked.
 */
export async function ensureBootstrapToken(db: Db, token: string): Promise<void> {
  await ensureProject(db, 'default');
  await db.apiToken.upsert({
    where: { tokenHash: hashToken(token) },
    create: { id: randomUUID(), projectId: 'default', name: 'bootstrap', admin: true, tokenHash: hashToken(token) },
    update: {},
  });
}

/** Who a presented token is, or null when it is unknown or revoked. */
export async function authenticate(db: Db, token: string): Promise<TokenIdentity | null> {
  const t = await db.apiToken.findUnique({ where: { tokenHash: hashToken(token) }, select: { id: true, projectId: true, admin: true, revokedAt: true } });
  if (!t || t.revokedAt) return null;
  return { tokenId: t.id, projectId: t.projectId, admin: t.admin };
}

/** Revokes a token; revoking twice changes nothing. False when no such token exists. */
export async function revokeToken(db: Db, id: string): Promise<boolean> {
  const t = await db.apiToken.findUnique({ where: { id }, select: { revokedAt: true } });
  if (!t) return false;
  if (!t.revokedAt) await db.apiToken.update({ where: { id }, data: { revokedAt: new Date() } });
  return true;
}

export async function listTokens(db: Db, projectId?: string) {
  return db.apiToken.findMany({
    where: projectId ? { projectId } : {},
    orderBy: { createdAt: 'asc' },
    select: { id: true, projectId: true, name: true, admin: true, createdAt: true, revokedAt: true },
  });
}
