import {
  errorBodySchema,
  idParamsSchema,
  pageQuerySchema,
  sweepDetailSchema,
  sweepSummarySchema,
  trialListQuerySchema,
  trialSchema,
} from '@lrsweep/contract';
import { failureSummary, unrunnableReason, forkPlanOf, getSweep, listSweeps, listTrials } from '@lrsweep/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../errors';
import { toCsv } from '../csv';
import { trialsCsvRows, trialView } from './trial-view';
import { sweepErrors as errors, type SweepRouteDeps, sweepSummary as summary } from './sweep-route-shared';

/** Reading sweeps: the list, one sweep (counts, failures, forks, numerics key), and its trials (JSON or CSV). */
export const sweepReadRoutes =
  (deps: SweepRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db } = deps;
    app.get(
      '/sweeps',
      {
        schema: {
          tags: ['sweeps'],
          summary: 'List sweeps, newest first',
          querystring: pageQuerySchema,
          response: {
            200: z.object({
              sweeps: z.array(sweepSummarySchema),
              total: z.number().int(),
              limit: z.number().int(),
              offset: z.number().int(),
            }),
            400: errorBodySchema,
          },
        },
      },
      async (req) => {
        const { total, sweeps: rows } = await listSweeps(db, req.auth.projectId, req.query);
        return { sweeps: rows.map(summary), total, ...req.query };
      },
    );

    app.get(
      '/sweeps/:id',
      {
        schema: {
          tags: ['sweeps'],
          summary: 'One sweep with its trial counts',
          params: idParamsSchema,
          response: { 200: sweepDetailSchema, ...errors },
        },
      },
      async (req) => {
        const s = await getSweep(db, req.params.id, req.auth.projectId);
        if (!s) throw notFound('sweep', req.params.id);
        const forks = await forkPlanOf(db, s.id);
        return {
          ...summary(s),
          ...(forks.forks ? { forks } : {}),
          objective: s.objective,
          spec: s.spec,
          failures: s.counts.failed ? await failureSummary(db, s.id) : [],
          ...(s.runnerKind === 'builtin'
            ? { numerics: s.numerics, unrunnable: await unrunnableReason(db, s, deps.workerLostAfterMs ?? 30_000) }
            : {}),
        };
      },
    );

    app.get(
      '/sweeps/:id/trials',
      {
        schema: {
          tags: ['trials'],
          summary: "A sweep's trials, in grid order",
          params: idParamsSchema,
          querystring: trialListQuerySchema,
          response: {
            200: z.object({
              trials: z.array(trialSchema),
              total: z.number().int(),
              limit: z.number().int(),
              offset: z.number().int(),
            }),
            ...errors,
          },
        },
      },
      async (req, reply) => {
        if (!(await getSweep(db, req.params.id, req.auth.projectId))) throw notFound('sweep', req.params.id);
        if (req.query.format === 'csv') {
          // Every trial, a thousand rows at a time.
          const all = [];
          for (let offset = 0; ; offset += 1000) {
            const page = await listTrials(db, req.params.id, { offset, limit: 1000, status: req.query.status });
            all.push(...page.trials);
            if (page.trials.length < 1000) break;
          }
          const { header, rows } = trialsCsvRows(all);
          return reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="trials-${req.params.id}.csv"`)
            .send(toCsv(header, rows) as never);
        }
        const { total, trials } = await listTrials(db, req.params.id, req.query);
        return { trials: trials.map(trialView), total, limit: req.query.limit, offset: req.query.offset };
      },
    );
  };
