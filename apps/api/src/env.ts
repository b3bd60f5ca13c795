import { fileURLToPath } from 'node:url';
import { type AgentRateLimits, agentRateDefaults, trialRetryPolicy } from '@lrsweep/contract';
import { defaultDatabaseUrl } from '@lrsweep/db';
import { defaultRedisUrl } from '@lrsweep/queue';
import { z } from 'zod';

const int = (def: number) => z.coerce.number().int().positive().default(def);

const schema = z.object({
  DATABASE_URL: z.string().default(defaultDatabaseUrl),
  REDIS_URL: z.string().default(defaultRedisUrl),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  QUEUE_PREFIX: z.string().default('lrsweep'),
  /** The most trials one sweep may expand into. */
  MAX_TRIALS: int(10_000),
  /** Request bodies above this many bytes answer 413 (a large sweep spec is a few kB). */
  BODY_LIMIT: int(262_144),
  /** Requests per token per minute. */
  RATE_LIMIT_PER_MINUTE: int(600),
  /** Failed token lookups per client address per minute; past that, its failing requests answer 429 (valid tokens are still served). */
  AUTH_FAILURES_PER_MINUTE: int(30),
  /** Failed token lookups from all addresses together per minute; past that, every failing request answers 429. */
  AUTH_GLOBAL_FAILURES_PER_MINUTE: int(3_000),
  /** How long a valid token is trusted without a lookup: a revocation takes effect within it. */
  TOKEN_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  /**
   * Behind a proxy or an ingress: \`true\` (trust every hop), a number of hops, or comma-separated
   * proxy addresses/CIDRs, so the client address comes from X-Forwarded-For. Off by default.
   */
  TRUST_PROXY: z
    .string()
    .default('false')
    .transform((v): boolean | number | string[] =>
      v === 'true'
        ? true
        : v === 'false' || v === ''
          ? false
          : /^\d+$/.test(v)
            ? Number(v)
            : v.split(',').map((x) => x.trim()),
    ),
  /** An agent's claimed trial: its lease, how often agents heartbeat, and how long a trainer may report nothing. */
  AGENT_LEASE_MS: int(30_000),
  AGENT_HEARTBEAT_MS: int(10_000),
  AGENT_STALL_MS: int(600_000),
  /** Agent calls per window, whatever the token's role (see the contract's agentRateDefaults). */
  AGENT_RATE_WINDOW_S: int(agentRateDefaults.windowMs / 1000),
  AGENT_REGISTRATIONS_PER_WINDOW: int(agentRateDefaults.registrationsPerToken),
  AGENT_CLAIMS_PER_WINDOW: int(agentRateDefaults.claimsPerAgent),
  AGENT_REPORTS_PER_WINDOW: int(agentRateDefaults.reportsPerTrial),
  AGENT_TOKEN_REPORTS_PER_WINDOW: int(agentRateDefaults.reportsPerToken),
  AGENT_CONTROL_PER_WINDOW: int(agentRateDefaults.controlPerTrial),
  AGENT_TOKEN_CONTROL_PER_WINDOW: int(agentRateDefaults.controlPerToken),
  /** A built-in worker silent this long is shown lost (its trials' leases lapse by then too: LEASE_MS's default). */
  WORKER_LOST_AFTER_MS: int(30_000),
  /** The longest horizon a trial may have, in updates. */
  MAX_TRIAL_STEPS: int(1_000_000),
  /** Comma-separated origins allowed to call from a browser; none by default (CORS closed). */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    ),
  REQUEST_TIMEOUT_MS: int(30_000),
  /** How often Postgres and Redis are reconciled (trials Redis lost are re-enqueued). */
  RECONCILE_INTERVAL_MS: int(15_000),
  /** Failed attempts a trial may spend before it fails (crashes, lost leases, infrastructure). */
  TRIAL_FAILURE_BUDGET: int(trialRetryPolicy.failureBudget),
  /** An operator token (every project; registered at start) for automated set-ups. */
  LRSWEEP_BOOTSTRAP_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  /** The built dashboard to serve at / (default: apps/dashboard/dist, when built). */
  DASHBOARD_DIR: z.string().default(fileURLToPath(new URL('../../dashboard/dist', import.meta.url))),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type ApiEnv = z.infer<typeof schema>;

/** Reads and validates the API's environment once, at start. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): ApiEnv {
  const r = schema.safeParse(env);
  if (!r.success) {
    throw new Error(
      `invalid API environment: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return r.data;
}

/** The settings `buildApp` takes, as the environment gives them. */
export function appSettings(env: ApiEnv) {
  return {
    maxTrials: env.MAX_TRIALS,
    bodyLimit: env.BODY_LIMIT,
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    authFailuresPerMinute: env.AUTH_FAILURES_PER_MINUTE,
    authGlobalFailuresPerMinute: env.AUTH_GLOBAL_FAILURES_PER_MINUTE,
    agentRate: {
      windowMs: env.AGENT_RATE_WINDOW_S * 1000,
      registrationsPerToken: env.AGENT_REGISTRATIONS_PER_WINDOW,
      claimsPerAgent: env.AGENT_CLAIMS_PER_WINDOW,
      reportsPerTrial: env.AGENT_REPORTS_PER_WINDOW,
      reportsPerToken: env.AGENT_TOKEN_REPORTS_PER_WINDOW,
      controlPerTrial: env.AGENT_CONTROL_PER_WINDOW,
      controlPerToken: env.AGENT_TOKEN_CONTROL_PER_WINDOW,
    } satisfies AgentRateLimits as AgentRateLimits,
    tokenCacheMs: env.TOKEN_CACHE_MS,
    trustProxy: env.TRUST_PROXY,
    maxTrialSteps: env.MAX_TRIAL_STEPS,
    agentLeaseMs: env.AGENT_LEASE_MS,
    agentHeartbeatMs: env.AGENT_HEARTBEAT_MS,
    agentStallMs: env.AGENT_STALL_MS,
    workerLostAfterMs: env.WORKER_LOST_AFTER_MS,
    corsOrigins: env.CORS_ORIGINS,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    failureBudget: env.TRIAL_FAILURE_BUDGET,
    dashboardDir: env.DASHBOARD_DIR,
  };
}
export type AppSettings = ReturnType<typeof appSettings>;

/** Every setting at its default: the one place defaults live is the schema above. */
export const defaultSettings: AppSettings = appSettings(readEnv({}));
