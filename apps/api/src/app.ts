import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '@lrsweep/db';
import type { TrialQueue } from '@lrsweep/queue';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { registerAuth } from './auth';
import { registerErrorHandler, zodValidatorCompiler } from './errors';
import { registerStrictJson } from './strict-json';
import { adminRoutes } from './routes/admin-routes';
import { resultsRoutes } from './routes/results-routes';
import { scheduleRoutes } from './routes/schedule-routes';
import { sweepRoutes } from './routes/sweep-routes';
import { systemRoutes } from './routes/system-routes';
import { trialRoutes } from './routes/trial-routes';
import { createResultsService } from './services/results-service';
import { createSweepService } from './services/sweep-service';

export interface AppOptions {
  db: Db;
  redis: Redis;
  queue: TrialQueue;
  /** The most trials one sweep may expand into (default 10 000). */
  maxTrials?: number;
  /** Request bodies above this many bytes answer 413 (default 1 MiB). */
  bodyLimit?: number;
  /** Requests per token (or per address without one) per minute (default 600). */
  rateLimitPerMinute?: number;
  /** Origins allowed to call the API from a browser; none by default (CORS closed). */
  corsOrigins?: string[];
  /** A request taking longer is cut off (default 30 s). */
  requestTimeoutMs?: number;
  logger?: FastifyServerOptions['loggerInstance'] | boolean;
  /** The built dashboard (apps/dashboard/dist), served at / when given and present. */
  dashboardDir?: string;
}

/** Builds the API without listening, so tests can use `app.inject()`. */
export async function buildApp(opts: AppOptions) {
  const app = Fastify({
    bodyLimit: opts.bodyLimit ?? 1_048_576,
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    connectionTimeout: (opts.requestTimeoutMs ?? 30_000) + 5_000,
    ...(typeof opts.logger === 'object' ? { loggerInstance: opts.logger } : { logger: opts.logger ?? false }),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app);
  registerStrictJson(app);

  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: { 'script-src': ["'self'"], 'style-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:'] },
    },
  });
  if (opts.corsOrigins?.length) await app.register(cors, { origin: opts.corsOrigins, credentials: false });
  registerAuth(app, opts.db);
  // Its own connection that fails fast: with Redis down, requests go unlimited, never stuck.
  const limiterRedis = opts.redis.duplicate({ enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: false });
  limiterRedis.on('error', () => {});
  app.addHook('onClose', async () => limiterRedis.disconnect());
  await app.register(rateLimit, {
    // After authentication, so the limit is per token.
    hook: 'preHandler',
    max: opts.rateLimitPerMinute ?? 600,
    timeWindow: 60_000,
    redis: limiterRedis,
    nameSpace: 'lrsweep-rate:',
    skipOnError: true,
    keyGenerator: (req) => (req.auth ? `token:${req.auth.tokenId}` : `ip:${req.ip}`),
    errorResponseBuilder: (_req, ctx) => ({
      statusCode: 429,
      code: 'RATE_LIMITED',
      message: `more than ${ctx.max} requests a minute; retry in ${Math.ceil(ctx.ttl / 1000)} s`,
    }),
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'lrsweep',
        version: '1',
        description: 'Sweeps over base learning rate × schedule × seed, trained by a worker fleet and ranked across seeds.',
      },
      tags: [{ name: 'sweeps' }, { name: 'results' }, { name: 'trials' }, { name: 'schedules' }, { name: 'admin' }, { name: 'system' }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  if (opts.dashboardDir && existsSync(join(opts.dashboardDir, 'index.html'))) {
    await app.register(fastifyStatic, { root: opts.dashboardDir, prefix: '/', index: 'index.html', wildcard: false });
  }

  const sweeps = createSweepService({ db: opts.db, queue: opts.queue, maxTrials: opts.maxTrials ?? 10_000 });
  await app.register(sweepRoutes({ db: opts.db, sweeps }));
  await app.register(resultsRoutes({ results: createResultsService({ db: opts.db }) }));
  await app.register(trialRoutes({ db: opts.db }));
  await app.register(scheduleRoutes);
  await app.register(adminRoutes({ db: opts.db }));
  await app.register(systemRoutes({ db: opts.db, redis: opts.redis }));
  return app;
}
export type App = Awaited<ReturnType<typeof buildApp>>;
