import { poolNameSchema } from '@lrsweep/contract';
import type { Db } from '@lrsweep/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { RedisConnection as Redis } from '@lrsweep/queue';
import { z } from 'zod';
import type { ApiMetrics } from '../metrics';

const health = z.object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), z.string()).optional() });

export const systemRoutes =
  (deps: { db: Db; redis: Redis; metrics: ApiMetrics }): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/healthz',
      {
        config: { rateLimit: false },
        schema: { tags: ['system'], summary: 'The process is up', response: { 200: health } },
      },
      async () => ({ status: 'ok' as const }),
    );
    app.get(
      '/readyz',
      {
        config: { rateLimit: false },
        schema: { tags: ['system'], summary: 'Postgres and Redis answer', response: { 200: health, 503: health } },
      },
      async (_req, reply) => {
        const timeout = <T>(p: Promise<T>) =>
          Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 2000))]);
        const [pg, rd] = await Promise.allSettled([timeout(deps.db.$queryRaw`SELECT 1`), timeout(deps.redis.ping())]);
        const checks = {
          postgres: pg.status === 'fulfilled' ? 'ok' : String((pg as PromiseRejectedResult).reason?.message ?? 'down'),
          redis: rd.status === 'fulfilled' ? 'ok' : String((rd as PromiseRejectedResult).reason?.message ?? 'down'),
        };
        const ok = checks.postgres === 'ok' && checks.redis === 'ok';
        return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks });
      },
    );
    app.get(
      '/metrics',
      {
        config: { rateLimit: false },
        schema: { tags: ['system'], summary: 'Prometheus metrics (no token; no project names in labels)' },
      },
      async (_req, reply) => reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
    );
    app.get(
      '/scaling/backlog',
      {
        schema: {
          tags: ['system'],
          summary:
            "A pool's backlog (queued trials that may start + running trials, from Postgres, every project): KEDA's metrics-api trigger scales the pool's workers on `backlog`. The built-in workers' sweeps by default; runner=external counts agents' sweeps",
          querystring: z.strictObject({
            pool: poolNameSchema,
            runner: z.enum(['builtin', 'external']).default('builtin'),
          }),
          response: {
            200: z.object({
              pool: z.string(),
              queued: z.number().int(),
              running: z.number().int(),
              backlog: z.number().int(),
            }),
          },
        },
      },
      async (req) => deps.metrics.backlog(req.query.pool, req.query.runner),
    );
  };
