import { authenticate, type Db, type TokenIdentity } from '@lrsweep/db';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './errors';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling: set on every /v1 request. */
    auth: TokenIdentity;
  }
}

/** Every /v1 route needs `Authorization: Bearer <token>`; unknown and revoked tokens get 401. */
export function registerAuth(app: FastifyInstance, db: Db) {
  app.decorateRequest('auth', null as unknown as TokenIdentity);
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/v1/')) return;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) throw new ApiError(401, 'UNAUTHENTICATED', 'send an API token: Authorization: Bearer <token>');
    const who = await authenticate(db, m[1]!);
    if (!who) throw new ApiError(401, 'UNAUTHENTICATED', 'the API token is unknown or revoked');
    req.auth = who;
  });
}

export function requireAdmin(req: FastifyRequest) {
  if (!req.auth.admin) throw new ApiError(403, 'FORBIDDEN', 'this route needs an admin token');
}
