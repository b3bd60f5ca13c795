import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { can, type RouteRuleName, routeRules, ruleWords } from '@lrsweep/contract';
import type { Db } from '@lrsweep/db';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { duplicateRedis, type RedisConnection as Redis, type TrialQueue } from '@lrsweep/queue';
import type { Logger } from 'pino';
import { createAgentLimits } from './agent-limits';
import { registerAuth } from './auth';
import { type AppSettings, defaultSettings } from './env';
import { ApiError, registerErrorHandler, zodValidatorCompiler } from './errors';
import { adminRoutes } from './routes/admin-routes';
import { agentRoutes } from './routes/agent-routes';
import { fleetRoutes } from './routes/fleet-routes';
import { poolRoutes } from './routes/pool-routes';
import { resultsRoutes } from './routes/results-routes';
import { scheduleRoutes } from './routes/schedule-routes';
import { sweepRoutes } from './routes/sweep-routes';
import { systemRoutes } from './routes/system-routes';
import { trialRoutes } from './routes/trial-routes';
import { createAgentService } from './services/agent-service';
import { createResultsService } from './services/results-service';
import { createSweepService } from './services/sweep-service';
import { type ApiMetrics, createApiMetrics } from './metrics';
import { createRevocations } from './revocations';
import { registerStrictJson } from './strict-json';

/** What the API is built from: its clients, and settings that default as the environment's do (env.ts). */
export interface AppOptions extends Partial<AppSettings> {
  db: Db;
  redis: Redis;
  queue: TrialQueue;
  logger?: FastifyServerOptions['loggerInstance'] | boolean;
  /** Its Prometheus metrics (made here unless given: the process shares them with the reconciler). */
  metrics?: ApiMetrics;
}

/** Builds the API without listening, so tests can use `app.inject()`. */
export async function buildApp(opts: AppOptions) {
  const s: AppSettings = { ...defaultSettings, ...definedOnly(opts) };
  const app = Fastify({
    bodyLimit: s.bodyLimit,
    requestTimeout: s.requestTimeoutMs,
    connectionTimeout: s.requestTimeoutMs + 5_000,
    // A number of hops is a trust function (the closest `n` proxies).
    trustProxy:
      typeof s.trustProxy === 'number'
        ? (
            (hops: number) => (_addr: string, i: number) =>
              i < hops
          )(s.trustProxy)
        : s.trustProxy,
    ...(typeof opts.logger === 'object' ? { loggerInstance: opts.logger } : { logger: opts.logger ?? false }),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app);
  registerStrictJson(app);

  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        'script-src': ["'self'"],
        'style-src': ["'self'", "'unsafe-inline'"],
        'img-src': ["'self'", 'data:'],
      },
    },
  });
  if (s.corsOrigins.length)
    await app.register(cors, { origin: s.corsOrigins, credentials: false, methods: ['GET', 'HEAD', 'POST', 'DELETE'] });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'lrsweep',
        version: '1.1',
        description:
          'Sweeps over base learning rate × schedule × seed, trained by a worker fleet and ranked across seeds.',
      },
      tags: [
        { name: 'sweeps' },
        { name: 'results' },
        { name: 'trials' },
        { name: 'schedules' },
        { name: 'agents' },
        { name: 'admin' },
        { name: 'system' },
      ],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  if (s.dashboardDir && existsSync(join(s.dashboardDir, 'index.html'))) {
    await app.register(fastifyStatic, { root: s.dashboardDir, prefix: '/', index: 'index.html', wildcard: false });
  } else {
    // Not built: say how, rather than a bare 404 where a newcomer expects the dashboard.
    app.get('/', { schema: { hide: true } }, async (_req, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .send(
          '<!doctype html><meta charset="utf-8"><title>lrsweep</title><body style="font-family:system-ui;max-width:40rem;margin:3rem auto">' +
            '<h1>lrsweep API</h1><p>The dashboard is not built on this machine. Build it once with</p>' +
            '<pre>pnpm --filter @lrsweep/dashboard build</pre><p>and restart the API (it serves <code>apps/dashboard/dist</code>), ' +
            'or run <code>pnpm --filter @lrsweep/dashboard dev</code>. The API itself is at <a href="/docs">/docs</a>.</p>',
        ),
    );
  }
  const metrics = opts.metrics ?? createApiMetrics({ db: opts.db, queue: opts.queue });
  app.addHook('onResponse', async (req, reply) => {
    metrics.observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });
  await app.register(systemRoutes({ db: opts.db, redis: opts.redis, metrics }));

  const sweeps = createSweepService({
    db: opts.db,
    queue: opts.queue,
    maxTrials: s.maxTrials,
    maxTrialSteps: s.maxTrialSteps,
    failureBudget: s.failureBudget,
  });
  const results = createResultsService({ db: opts.db });
  // Agents' long polls block: on connections that may (the request path's time out in 2 s).
  let blocking: Redis | null = null;
  const blockingRedis = () => {
    if (!blocking) {
      blocking = duplicateRedis(opts.redis, { commandTimeout: undefined, maxRetriesPerRequest: null });
      blocking.on('error', () => {});
    }
    return blocking;
  };
  app.addHook('onClose', async () => blocking?.disconnect());
  // Revocations reach every API process at once (the cache drops the token, open claims end with 401).
  const revocations = createRevocations(
    opts.redis,
    opts.queue.prefix,
    typeof opts.logger === 'object' ? (opts.logger as Logger) : undefined,
  );
  const agentLimits = createAgentLimits(opts.redis, opts.queue.prefix, s.agentRate);
  app.addHook('onClose', async () => {
    revocations.close();
    agentLimits.close();
  });
  const agents = createAgentService({
    db: opts.db,
    queue: opts.queue,
    blockingRedis,
    prefix: opts.queue.prefix,
    leaseMs: s.agentLeaseMs,
    stallMs: s.agentStallMs,
    heartbeatMs: s.agentHeartbeatMs,
  });
  // Every /v1 route lives in this plugin, and so does the auth hook: fastify's encapsulation
  // applies it to whatever the router reaches here, whatever the spelling of the path.
  await app.register(
    async (v1: FastifyInstance) => {
      registerAuth(v1, opts.db, {
        failuresPerMinute: s.authFailuresPerMinute,
        globalFailuresPerMinute: s.authGlobalFailuresPerMinute,
        tokenCacheMs: s.tokenCacheMs,
        revocations,
      });
      await registerRateLimit(v1, opts.redis, s.rateLimitPerMinute);
      // Each route's access rule, declared in the contract (routeRules): checked before its body
      // is validated, so a role that may not call a route learns so first. A route without a
      // rule is refused: a new route must declare one.
      v1.addHook('preValidation', async (req) => {
        if (req.routeOptions.url === undefined) return;
        const key = `${req.method === 'HEAD' ? 'GET' : req.method} ${req.routeOptions.url}`;
        const rule = (routeRules as Record<string, { may: RouteRuleName }>)[key];
        if (!rule) throw new ApiError('FORBIDDEN', `${key} declares no access rule`);
        if (!can[rule.may](req.auth))
          throw new ApiError('FORBIDDEN', `a ${req.auth.role} token cannot ${ruleWords[rule.may]}`);
      });
      // Agent routes draw from the agent buckets instead, whatever the token's role.
      v1.addHook('preHandler', async (req) => {
        const kind = req.routeOptions.config?.agentLimit;
        if (kind) await agentLimits.check(kind, req);
      });
      await v1.register(sweepRoutes({ db: opts.db, sweeps, workerLostAfterMs: s.workerLostAfterMs }));
      await v1.register(resultsRoutes({ results, db: opts.db }));
      await v1.register(trialRoutes({ db: opts.db }));
      await v1.register(scheduleRoutes);
      await v1.register(adminRoutes({ db: opts.db, revocations }));
      await v1.register(agentRoutes({ db: opts.db, agents, revocations, aliveMs: 3 * s.agentHeartbeatMs }));
      await v1.register(
        fleetRoutes({ db: opts.db, agentAliveMs: 3 * s.agentHeartbeatMs, workerLostAfterMs: s.workerLostAfterMs }),
      );
      await v1.register(poolRoutes({ db: opts.db }));
    },
    { prefix: '/v1' },
  );
  return app;
}
export type App = Awaited<ReturnType<typeof buildApp>>;

/** The options that were given (an explicit `undefined` keeps the default). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function registerRateLimit(scope: FastifyInstance, redis: Redis, max: number) {
  // Its own connection that fails fast: with Redis down or frozen, requests go unlimited within
  // 300 ms (as skipOnError says), never stuck.
  const limiterRedis = duplicateRedis(redis, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: false,
    commandTimeout: 300,
  });
  limiterRedis.on('error', () => {});
  scope.addHook('onClose', async () => limiterRedis.disconnect());
  await scope.register(rateLimit, {
    // After authentication, so the limit is per token. The agent routes have buckets of their
    // own (agent-limits.ts): a fleet of agents shares a token, whatever its role.
    hook: 'preHandler',
    max,
    allowList: (req) => req.routeOptions.config?.agentLimit !== undefined,
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
}
