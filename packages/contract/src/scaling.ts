/**
 * Autoscalers of agents (`lrsweep slurm up`): a pool's ready backlog as one project sees it, and
 * the lease that keeps one scaler per project and pool.
 */
import { z } from 'zod';

export const poolBacklogQuery = z.strictObject({
  runner: z
    .enum(['builtin', 'external'])
    .default('external')
    .describe("whose sweeps count: agents' (external, the default) or the built-in workers'"),
});

export const poolBacklogAnswer = z
  .object({
    pool: z.string(),
    runner: z.enum(['builtin', 'external']),
    ready: z.number().int().meta({
      description:
        "queued trials that may start now (not held back by their sweep's maxParallel, not a fork waiting for its trunk, not paused at a rung)",
    }),
    running: z.number().int(),
  })
  .meta({ id: 'PoolBacklog' });

/** A scaler lease lasts 10 s to 10 minutes; its holder renews it well inside that. */
export const scalerLeaseBody = z.strictObject({
  holder: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'letters, digits and . _ : @ -')
    .meta({ description: 'who scales (its host and pid, say): the same holder renews' }),
  ttlMs: z.number().int().min(10_000).max(600_000).default(60_000),
});

export const scalerLeaseAnswer = z
  .object({
    granted: z.boolean().meta({ description: 'whether the caller holds the lease now' }),
    holder: z.string(),
    expiresAt: z.string(),
  })
  .meta({ id: 'ScalerLease' });

export const scalerReleaseQuery = z.strictObject({ holder: scalerLeaseBody.shape.holder });
export type PoolBacklog = z.output<typeof poolBacklogAnswer>;
export type ScalerLease = z.output<typeof scalerLeaseAnswer>;
