import { defaultDatabaseUrl } from '@lrsweep/db';
import { defaultRedisUrl } from '@lrsweep/queue';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const schema = z.object({
  DATABASE_URL: z.string().default(defaultDatabaseUrl),
  REDIS_URL: z.string().default(defaultRedisUrl),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  QUEUE_PREFIX: z.string().default('lrsweep'),
  /** The most trials one sweep may expand into. */
  MAX_TRIALS: z.coerce.number().int().positive().default(10_000),
  /** Request bodies above this many bytes answer 413. */
  BODY_LIMIT: z.coerce.number().int().positive().default(1_048_576),
  /** Requests per token per minute. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  /** Comma-separated origins allowed to call from a browser; none by default (CORS closed). */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean)),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** How often Postgres and Redis are reconciled (trials Redis lost are re-enqueued). */
  RECONCILE_INTERVAL_MS: z.coerce.number().int().positive().default(15_000),
  /** An admin token of project "default" for automated set-ups (registered at start). */
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
