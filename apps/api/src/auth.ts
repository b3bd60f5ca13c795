import { createHash } from 'node:crypto';
import { type Caller, can } from '@lrsweep/contract';
import { authenticate, type Db } from '@lrsweep/db';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import { ApiError } from './errors';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling: set on every request inside the /v1 plugin. */
    auth: Caller;
  }
}

export interface AuthOptions {
  /** Failed authentications a client address may make per minute; past that, 429 without a lookup. */
  failuresPerMinute: number;
  /** How long a valid token is trusted without asking Postgres again (a revocation takes effect within it). */
  tokenCacheMs: number;
}

const windowMs = 60_000;

/**
 * Every route of the plugin it is registered in needs `Authorization: Bearer <token>`; unknown
 * and revoked tokens get 401. Registered inside the /v1 plugin (fastify encapsulation), so it
 * guards every route the router reaches there, however the path was spelled. Guessing is not
 * free: a client address (`req.ip`, which TRUST_PROXY lets come from X-Forwarded-For) with too
 * many failures in a minute gets 429 with Retry-After, before any lookup; valid tokens are
 * looked up once every `tokenCacheMs`.
 */
export function registerAuth(scope: FastifyInstance, db: Db, opts: AuthOptions) {
  const failures = new LRUCache<string, { count: number; resetAt: number }>({ max: 100_000, ttl: windowMs });
  // ttl 0 would mean "forever" to lru-cache: a cache time of 0 is no cache.
  const tokens = opts.tokenCacheMs > 0 ? new LRUCache<string, Caller>({ max: 10_000, ttl: opts.tokenCacheMs }) : null;
  const refuse = (ip: string, message: string): never => {
    const now = Date.now();
    const f = failures.get(ip);
    if (f && f.resetAt > now) f.count += 1;
    else failures.set(ip, { count: 1, resetAt: now + windowMs });
    throw new ApiError('UNAUTHENTICATED', message);
  };
  scope.decorateRequest('auth', null as unknown as Caller);
  scope.addHook('onRequest', async (req) => {
    const f = failures.get(req.ip);
    if (f && f.count >= opts.failuresPerMinute && f.resetAt > Date.now()) {
      const retryAfter = Math.ceil((f.resetAt - Date.now()) / 1000);
      throw new ApiError('RATE_LIMITED', `too many failed authentications from this address; retry in ${retryAfter} s`, undefined, { 'retry-after': String(retryAfter) });
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return refuse(req.ip, 'send an API token: Authorization: Bearer <token>');
    const key = createHash('sha256').update(m[1]!).digest('hex');
    let who = tokens?.get(key);
    if (!who) {
      const found = await authenticate(db, m[1]!);
      if (!found) return refuse(req.ip, 'the API token is unknown or revoked');
      tokens?.set(key, found);
      who = found;
    }
    req.auth = who;
  });
}

/** 403 unless the caller's role may do `what` (see the contract's `can`). */
export function requireRole(req: FastifyRequest, allowed: (c: Caller) => boolean, what: string) {
  if (!allowed(req.auth)) throw new ApiError('FORBIDDEN', `a ${req.auth.role} token cannot ${what}`);
}

export const requireSweepAccess = (req: FastifyRequest) => requireRole(req, can.useSweeps, 'read or change sweeps');
