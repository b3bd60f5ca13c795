import { type Caller, can } from '@lrsweep/contract';
import { authenticate, type Db } from '@lrsweep/db';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './errors';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling: set on every request inside the /v1 plugin. */
    auth: Caller;
  }
}

/**
 * Every route of the plugin it is registered in needs `Authorization: Bearer <token>`; unknown
 * and revoked tokens get 401. Registered inside the /v1 plugin (fastify encapsulation), so it
 * guards every route the router reaches there, however the path was spelled.
 */
export function registerAuth(scope: FastifyInstance, db: Db) {
  scope.decorateRequest('auth', null as unknown as Caller);
  scope.addHook('onRequest', async (req) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) throw new ApiError('UNAUTHENTICATED', 'send an API token: Authorization: Bearer <token>');
    const who = await authenticate(db, m[1]!);
    if (!who) throw new ApiError('UNAUTHENTICATED', 'the API token is unknown or revoked');
    req.auth = who;
  });
}

/** 403 unless the caller's role may do `what` (see the contract's `can`). */
export function requireRole(req: FastifyRequest, allowed: (c: Caller) => boolean, what: string) {
  if (!allowed(req.auth)) throw new ApiError('FORBIDDEN', `a ${req.auth.role} token cannot ${what}`);
}

export const requireSweepAccess = (req: FastifyRequest) => requireRole(req, can.useSweeps, 'read or change sweeps');
