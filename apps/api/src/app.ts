import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Db } from '@lrsweep/db';
import type { TrialQueue } from '@lrsweep/queue';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { registerErrorHandler, zodValidatorCompiler } from './errors';
import { scheduleRoutes } from './routes/schedule-routes';
import { sweepRoutes } from './routes/sweep-routes';
import { systemRoutes } from './routes/system-routes';
import { trialRoutes } from './routes/trial-routes';
import { createSweepService } from './services/sweep-service';

export interface AppOptions {
  db: Db;
  redis: Redis;
  queue: TrialQueue;
  /** The most trials one sweep may expand into (default 10 000). */
  maxTrials?: number;
  /** Request bodies above this many bytes answer 413 (default 1 MiB). */
  bodyLimit?: number;
  logger?: FastifyServerOptions['loggerInstance'] | boolean;
}

/** Builds the API without listening, so tests can use `app.inject()`. */
export async function buildApp(opts: AppOptions) {
  const app = Fastify({
    bodyLimit: opts.bodyLimit ?? 1_048_576,
    ...(typeof opts.logger === 'object' ? { loggerInstance: opts.logger } : { logger: opts.logger ?? false }),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'lrsweep',
        version: '1',
        description: 'Sweeps over base learning rate × schedule × seed, trained by a worker fleet and ranked across seeds.',
      },
      tags: [{ name: 'sweeps' }, { name: 'results' }, { name: 'trials' }, { name: 'schedules' }, { name: 'system' }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const sweeps = createSweepService({ db: opts.db, queue: opts.queue, maxTrials: opts.maxTrials ?? 10_000 });
  await app.register(sweepRoutes({ db: opts.db, sweeps }));
  await app.register(trialRoutes({ db: opts.db }));
  await app.register(scheduleRoutes);
  await app.register(systemRoutes({ db: opts.db, redis: opts.redis }));
  return app;
}
export type App = Awaited<ReturnType<typeof buildApp>>;
