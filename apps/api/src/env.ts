import { defaultDatabaseUrl } from '@lrsweep/db';
import { defaultRedisUrl } from '@lrsweep/queue';
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
