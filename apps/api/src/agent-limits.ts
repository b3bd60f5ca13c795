import type { AgentRateLimits } from '@lrsweep/contract';
import { duplicateRedis, type RedisConnection as Redis } from '@lrsweep/queue';
import type { FastifyRequest } from 'fastify';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ApiError } from './errors';

/** Which bucket an agent route draws from (the route's `config.agentLimit`). */
export type AgentLimitKind = 'register' | 'claim' | 'report' | 'control';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** An agent route: limited by the agent buckets (whatever the token's role), not by RATE_LIMIT_PER_MINUTE. */
    agentLimit?: AgentLimitKind;
    /** What a 413 says on this route (its body limit, and the field that makes a body large). */
    tooLarge?: string;
  }
}

/**
 * The agent routes' rate limits (contract: agentRateDefaults), counted in Redis so every API
 * process shares them; rate-limiter-flexible does the counting (an atomic INCR with expiry per
 * key and window) and, while Redis is down or slow (300 ms), falls back to counting in this
 * process. Each kind of call has its own bucket, so reports can never starve lease renewals:
 *
 * | kind | calls | bucket | ceiling |
 * |---|---|---|---|
 * | register | POST /agents | per token | – |
 * | claim | claim, heartbeat | per (token, agent) | – |
 * | report | updates, evals, checkpoints, lr | per (token, trial) | per token |
 * | control | lease, complete, fail, release | per (token, trial) | per token, its own |
 */
export function createAgentLimits(redis: Redis, prefix: string, limits: AgentRateLimits) {
  const conn = duplicateRedis(redis, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: false,
    commandTimeout: 300,
  });
  conn.on('error', () => {});
  const duration = Math.max(1, Math.round(limits.windowMs / 1000));
  const bucket = (name: string, points: number) =>
    new RateLimiterRedis({
      storeClient: conn,
      keyPrefix: `${prefix}:agent-rate:${name}`,
      points,
      duration,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: `agent-rate:${name}`, points, duration }),
    });
  const buckets = {
    register: [{ limiter: bucket('register', limits.registrationsPerToken), scope: 'token', what: 'registrations' }],
    claim: [
      { limiter: bucket('claim', limits.claimsPerAgent), scope: 'agent', what: 'claims and heartbeats of this agent' },
    ],
    report: [
      { limiter: bucket('report', limits.reportsPerTrial), scope: 'trial', what: 'reports for this trial' },
      { limiter: bucket('report-token', limits.reportsPerToken), scope: 'token', what: 'reports by this token' },
    ],
    control: [
      {
        limiter: bucket('control', limits.controlPerTrial),
        scope: 'trial',
        what: 'lease renewals and endings for this trial',
      },
      {
        limiter: bucket('control-token', limits.controlPerToken),
        scope: 'token',
        what: 'lease renewals and endings by this token',
      },
    ],
  } as const;

  return {
    /** Counts the request against its buckets; 429 with Retry-After when one is spent. */
    async check(kind: AgentLimitKind, req: FastifyRequest) {
      const token = req.auth.tokenId;
      const id = (req.params as { id?: string } | undefined)?.id ?? '';
      for (const b of buckets[kind]) {
        const key = b.scope === 'token' ? token : `${token}:${id}`;
        try {
          await b.limiter.consume(key);
        } catch (res) {
          // Anything but a spent bucket (the insurance limiter failing too): let the request through.
          if (!(res instanceof RateLimiterRes)) continue;
          const retryAfter = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
          throw new ApiError(
            'RATE_LIMITED',
            `more than ${b.limiter.points} ${b.what} in ${duration} s; retry in ${retryAfter} s`,
            undefined,
            { 'retry-after': String(retryAfter) },
          );
        }
      }
    },
    close: () => conn.disconnect(),
  };
}
export type AgentLimits = ReturnType<typeof createAgentLimits>;
