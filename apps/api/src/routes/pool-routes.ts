import {
  can,
  errorBodySchema,
  poolBacklogAnswer,
  poolBacklogQuery,
  poolNameSchema,
  scalerLeaseAnswer,
  scalerLeaseBody,
  scalerReleaseQuery,
} from '@lrsweep/contract';
import { acquireScalerLease, type Db, poolBacklog, releaseScalerLease } from '@lrsweep/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError } from '../errors';

const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema };
const params = z.strictObject({ pool: poolNameSchema });

/**
 * What an autoscaler of agents reads and holds (`lrsweep slurm up`): a pool's ready backlog in the
 * caller's project, and the one scaler lease per project and pool. A pool's token (an agent
 * token of that pool) may use them, as may admins; another pool's token is refused.
 */
export const poolRoutes =
  (deps: { db: Db }): FastifyPluginAsyncZod =>
  async (app) => {
    const mayServe = (caller: Parameters<typeof can.serve>[0], pool: string) => {
      if (!can.serve(caller, pool)) throw new ApiError('FORBIDDEN', `this token may not serve pool '${pool}'`);
    };
    app.get(
      '/pools/:pool/backlog',
      {
        schema: {
          tags: ['agents'],
          summary:
            "The pool's ready backlog in the caller's project: queued trials that may start now, and running ones (an autoscaler's demand)",
          params,
          querystring: poolBacklogQuery,
          response: { 200: poolBacklogAnswer, ...errors },
        },
      },
      async (req) => {
        mayServe(req.auth, req.params.pool);
        const [row] = await poolBacklog(deps.db, {
          pool: req.params.pool,
          projectId: req.auth.projectId,
          runner: req.query.runner,
        });
        return { pool: req.params.pool, runner: req.query.runner, ready: row?.queued ?? 0, running: row?.running ?? 0 };
      },
    );
    app.post(
      '/pools/:pool/scaler',
      {
        schema: {
          tags: ['agents'],
          summary:
            "Takes or renews the pool's scaler lease (one autoscaler per project and pool): granted: false names who holds it and until when",
          params,
          body: scalerLeaseBody,
          response: { 200: scalerLeaseAnswer, ...errors },
        },
      },
      async (req) => {
        mayServe(req.auth, req.params.pool);
        const r = await acquireScalerLease(
          deps.db,
          req.auth.projectId,
          req.params.pool,
          req.body.holder,
          req.body.ttlMs,
        );
        return { granted: r.granted, holder: r.lease.holder, expiresAt: r.lease.expiresAt.toISOString() };
      },
    );
    app.delete(
      '/pools/:pool/scaler',
      {
        schema: {
          tags: ['agents'],
          summary: "Gives the pool's scaler lease up (its holder only): the next scaler may take it at once",
          params,
          querystring: scalerReleaseQuery,
          response: { 200: z.object({ released: z.boolean() }), ...errors },
        },
      },
      async (req) => {
        mayServe(req.auth, req.params.pool);
        return {
          released: await releaseScalerLease(deps.db, req.auth.projectId, req.params.pool, req.query.holder),
        };
      },
    );
  };
