import { fileURLToPath } from 'node:url';
import { trialRetryPolicy } from '@lrsweep/contract';
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
  /** Request bodies above this many bytes answer 413. */
  BODY_LIMIT: int(1_048_576),
  /** Requests per token per minute. */
  RATE_LIMIT_PER_MINUTE: int(600),
  /** Comma-separated origins allowed to call from a browser; none by default (CORS closed). */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean)),
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
    throw new Error(`invalid API environment: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return r.data;
}

/** The settings `buildApp` takes, as the environment gives them. */
export function appSettings(env: ApiEnv) {
  return {
    maxTrials: env.MAX_TRIALS,
    bodyLimit: env.BODY_LIMIT,
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    corsOrigins: env.CORS_ORIGINS,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    failureBudget: env.TRIAL_FAILURE_BUDGET,
    dashboardDir: env.DASHBOARD_DIR,
  };
}
export type AppSettings = ReturnType<typeof appSettings>;

/** Every setting at its default: the one place defaults live is the schema above. */
export const defaultSettings: AppSettings = appSettings(readEnv({}));
