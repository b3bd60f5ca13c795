import { type Db, getSweep, listSweeps, listTrials, type SweepView } from '@lrsweep/db';
import { sweepSpecSchema } from '@lrsweep/sweep';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBodySchema, notFound } from '../errors';
import {
  idParamsSchema,
  pageQuerySchema,
  resultsSchema,
  sweepCreatedSchema,
  sweepDetailSchema,
  sweepSummarySchema,
  trialSchema,
} from '../schemas';
import type { createSweepService } from '../services/sweep-service';
import { trialView } from './trial-view';

const summary = (s: SweepView) => ({
  id: s.id,
  name: s.name,
  status: s.status,
  counts: s.counts,
  trialCount: s.trialCount,
  createdAt: s.createdAt.toISOString(),
  cancelledAt: s.cancelledAt?.toISOString() ?? null,
});

export const sweepRoutes =
  (deps: { db: Db; sweeps: ReturnType<typeof createSweepService> }): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, sweeps } = deps;
    const errors = { 400: errorBodySchema, 404: errorBodySchema };

    app.post(
      '/v1/sweeps',
      { schema: { tags: ['sweeps'], summary: 'Submit a sweep', body: sweepSpecSchema, response: { 201: sweepCreatedSchema, 400: errorBodySchema, 413: errorBodySchema } } },
      async (req, reply) => reply.status(201).send(await sweeps.submit(req.body)),
    );

    app.get(
      '/v1/sweeps',
      { schema: { tags: ['sweeps'], summary: 'List sweeps, newest first', querystring: pageQuerySchema, response: { 200: z.object({ sweeps: z.array(sweepSummarySchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }), 400: errorBodySchema } } },
      async (req) => {
        const { total, sweeps: rows } = await listSweeps(db, req.query);
        return { sweeps: rows.map(summary), total, ...req.query };
      },
    );

    app.get(
      '/v1/sweeps/:id',
      { schema: { tags: ['sweeps'], summary: 'One sweep with its trial counts', params: idParamsSchema, response: { 200: sweepDetailSchema, ...errors } } },
      async (req) => {
        const s = await getSweep(db, req.params.id);
        if (!s) throw notFound('sweep', req.params.id);
        return { ...summary(s), objective: s.objective, spec: s.spec };
      },
    );

    app.get(
      '/v1/sweeps/:id/results',
      { schema: { tags: ['results'], summary: 'Configurations ranked across seeds', params: idParamsSchema, response: { 200: resultsSchema, ...errors } } },
      async (req) => sweeps.results(req.params.id),
    );

    app.get(
      '/v1/sweeps/:id/trials',
      {
        schema: {
          tags: ['trials'],
          summary: "A sweep's trials, in grid order",
          params: idParamsSchema,
          querystring: pageQuerySchema.extend({ status: z.enum(['queued', 'running', 'completed', 'failed', 'diverged', 'cancelled']).optional() }),
          response: { 200: z.object({ trials: z.array(trialSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }), ...errors },
        },
      },
      async (req) => {
        if (!(await db.sweep.findUnique({ where: { id: req.params.id }, select: { id: true } }))) throw notFound('sweep', req.params.id);
        const { total, trials } = await listTrials(db, req.params.id, req.query);
        return { trials: trials.map(trialView), total, limit: req.query.limit, offset: req.query.offset };
      },
    );
  };
