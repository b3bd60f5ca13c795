import type { Db } from '@lrsweep/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { z } from 'zod';

const health = z.object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), z.string()).optional() });

export const systemRoutes =
  (deps: { db: Db; redis: Redis }): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/healthz', { config: { rateLimit: false }, schema: { tags: ['system'], summary: 'The process is up', response: { 200: health } } }, async () => ({ status: 'ok' as const }));
    app.get(
      '/readyz',
      { config: { rateLimit: false }, schema: { tags: ['system'], summary: 'Postgres and Redis answer', response: { 200: health, 503: health } } },
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
  };
