import {
  errorBodySchema,
  idParamsSchema,
  metricsQuerySchema,
  metricsSchema,
  type ParamGroup,
  trialAttemptsAnswer,
  trialSchema,
} from '@lrsweep/contract';
import { type Db, getTrial, trialAttempts, trialMetrics } from '@lrsweep/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { notFound } from '../errors';
import { trialView } from './trial-view';

export const trialRoutes =
  (deps: { db: Db }): FastifyPluginAsyncZod =>
  async (app) => {
    const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema };
    app.get(
      '/trials/:id',
      {
        schema: {
          tags: ['trials'],
          summary: 'One trial',
          params: idParamsSchema,
          response: { 200: trialSchema, ...errors },
        },
      },
      async (req) => {
        const t = await getTrial(deps.db, req.params.id, req.auth.projectId);
        if (!t) throw notFound('trial', req.params.id);
        return trialView(t);
      },
    );
    app.get(
      '/trials/:id/attempts',
      {
        schema: {
          tags: ['trials'],
          summary: "A trial's attempts: worker or agent, backend, start, end, outcome and error",
          params: idParamsSchema,
          response: { 200: trialAttemptsAnswer, ...errors },
        },
      },
      async (req) => {
        if (!(await getTrial(deps.db, req.params.id, req.auth.projectId))) throw notFound('trial', req.params.id);
        const rows = await trialAttempts(deps.db, req.params.id);
        return {
          attempts: rows.map((a) => ({
            attempt: a.attempt,
            workerId: a.workerId,
            agentId: a.agentId,
            backend: a.backend,
            startedAt: a.startedAt.toISOString(),
            endedAt: a.endedAt?.toISOString() ?? null,
            outcome: a.outcome as 'completed' | null,
            error: a.error,
            errorCode: a.errorCode,
            paramGroups: (a.paramGroups as ParamGroup[] | null) ?? null,
          })),
        };
      },
    );
    app.get(
      '/trials/:id/metrics',
      {
        // Up to millions of rows: typed by the schema, serialized without re-validating each one.
        serializerCompiler: () => (data: unknown) => JSON.stringify(data),
        schema: {
          tags: ['trials'],
          summary: "A trial's per-update and evaluation metrics, in step order",
          params: idParamsSchema,
          querystring: metricsQuerySchema,
          response: { 200: metricsSchema, ...errors },
        },
      },
      async (req) => {
        if (!(await getTrial(deps.db, req.params.id, req.auth.projectId))) throw notFound('trial', req.params.id);
        return trialMetrics(deps.db, req.params.id, req.query);
      },
    );
  };
