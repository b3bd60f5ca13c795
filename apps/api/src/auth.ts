import { createHash } from 'node:crypto';
import type { Caller } from '@lrsweep/contract';
import { authenticate, type Db } from '@lrsweep/db';
import type { FastifyInstance } from 'fastify';
import { LRUCache } from 'lru-cache';
import { ApiError } from './errors';
import type { Revocations } from './revocations';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling: set on every request inside the /v1 plugin. */
    auth: Caller;
  }
}

export interface AuthOptions {
  /** Failed lookups a client address may make per minute; past that its failing requests answer 429. */
  failuresPerMinute: number;
  /** Failed lookups from all addresses together per minute; past that every failing request answers 429. */
  globalFailuresPerMinute: number;
  /** How long a valid token is trusted without asking Postgres again (a revocation published by an API process takes effect at once). */
  tokenCacheMs: number;
  /** Revocations told by every API process: the cache drops the token at once. */
  revocations?: Revocations;
}

const windowMs = 60_000;
/** What a token may look like: printable ASCII without spaces, 16 to 512 characters (ours are `lrs_` + 43). */
const wellFormed = /^[\x21-\x7e]{16,512}$/;

/**
 * Every route of the plugin it is registered in needs `Authorization: Bearer <token>`; unknown
 * and revoked tokens get 401. Registered inside the /v1 plugin (fastify encapsulation), so it
 * guards every route the router reaches there, however the path was spelled.
 *
 * Guessing costs the guesser, never the honest callers beside it: a well-formed token is always
 * looked up (in the cache of valid tokens, else in Postgres), so a valid token is served whatever
 * else its address sends. Only a request whose token fails the lookup counts as a failure, per
 * client address (`req.ip`; TRUST_PROXY lets it come from X-Forwarded-For) and across all
 * addresses; once either budget of the minute is spent, failing requests answer 429 with
 * Retry-After instead of 401.
 */
export function registerAuth(scope: FastifyInstance, db: Db, opts: AuthOptions) {
  const failures = new LRUCache<string, { count: number; resetAt: number }>({ max: 100_000, ttl: windowMs });
  const global = { count: 0, resetAt: 0 };
  // ttl 0 would mean "forever" to lru-cache: a cache time of 0 is no cache.
  const tokens = opts.tokenCacheMs > 0 ? new LRUCache<string, Caller>({ max: 10_000, ttl: opts.tokenCacheMs }) : null;
  opts.revocations?.onAny((tokenId) => {
    if (!tokens) return;
    for (const [key, who] of tokens.entries()) if (who.tokenId === tokenId) tokens.delete(key);
  });
  const refuse = (ip: string, message: string): never => {
    const now = Date.now();
    const f = failures.get(ip);
    if (f && f.resetAt > now) f.count += 1;
    else failures.set(ip, { count: 1, resetAt: now + windowMs });
    if (global.resetAt <= now) Object.assign(global, { count: 0, resetAt: now + windowMs });
    global.count += 1;
    const mine = failures.get(ip)!;
    const over =
      mine.count > opts.failuresPerMinute
        ? mine.resetAt
        : global.count > opts.globalFailuresPerMinute
          ? global.resetAt
          : null;
    if (over !== null) {
      const retryAfter = Math.max(1, Math.ceil((over - now) / 1000));
      throw new ApiError(
        'RATE_LIMITED',
        `too many failed authentications${over === mine.resetAt ? ' from this address' : ''}; ${message}; retry in ${retryAfter} s`,
        undefined,
        { 'retry-after': String(retryAfter) },
      );
    }
    throw new ApiError('UNAUTHENTICATED', message);
  };
  scope.decorateRequest('auth', null as unknown as Caller);
  scope.addHook('onRequest', async (req) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return refuse(req.ip, 'send an API token: Authorization: Bearer <token>');
    if (!wellFormed.test(m[1]!)) return refuse(req.ip, 'the API token is unknown or revoked');
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
