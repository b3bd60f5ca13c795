import {
  curvesAnswer,
  curvesQuery,
  errorBodySchema,
  idParamsSchema,
  rangeTestAnswerSchema,
  resultQuery,
  resultsAnswer,
  schedulesAnswer,
  transferAnswer,
  transferQuery,
} from '@lrsweep/contract';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { toCsv } from '../csv';
import type { ResultsService } from '../services/results-service';
import type { Db } from '@lrsweep/db';
import { sweepTransfer } from '../services/transfer-service';

/**
 * Large answers (thousands of rows or points) skip re-validating every number on the way out:
 * the handlers are typed against these same schemas, which still generate the OpenAPI description.
 */
const plainJson = () => (data: unknown) => JSON.stringify(data);

export const resultsRoutes =
  (deps: { results: ResultsService; db: Db }): FastifyPluginAsyncZod =>
  async (app) => {
    const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema };
    const { results } = deps;

    app.get(
      '/sweeps/:id/results',
      {
        serializerCompiler: plainJson,
        schema: {
          tags: ['results'],
          summary: 'Configurations ranked across seeds (JSON or CSV)',
          params: idParamsSchema,
          querystring: resultQuery,
          response: { 200: resultsAnswer, ...errors },
        },
      },
      async (req, reply) => {
        const r = await results.ranking(req.params.id, req.auth.projectId, req.query);
        if (req.query.format === 'json') return r;
        // The test split's means ride beside the ranking, one column per test_* metric.
        const tests = [...new Set(r.ranking.flatMap((x) => Object.keys(x.test)))].sort();
        const csv = toCsv(
          [
            'rank',
            'configId',
            'baseLr',
            'schedule',
            'values',
            'n',
            'seeds',
            'diverged',
            'mean',
            'std',
            'sem',
            'ci95_lo',
            'ci95_hi',
            'partial',
            'selected_on',
            ...tests.map((t) => `${t}_mean`),
          ],
          r.ranking.map((x) => [
            x.rank,
            x.configId,
            x.config.baseLr,
            JSON.stringify(x.config.schedule),
            x.config.values ? JSON.stringify(x.config.values) : '',
            x.n,
            x.seeds,
            x.diverged,
            x.mean,
            x.std,
            x.sem,
            x.ci95?.[0],
            x.ci95?.[1],
            x.partial,
            r.selectedOn,
            ...tests.map((t) => x.test[t]?.mean),
          ]),
        );
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="results-${req.params.id}.csv"`)
          .send(csv as never);
      },
    );

    app.get(
      '/sweeps/:id/schedules',
      {
        serializerCompiler: plainJson,
        schema: {
          tags: ['results'],
          summary: "Per schedule: its best base LR, LR sensitivity, good basin; is the winner's lead significant?",
          params: idParamsSchema,
          querystring: resultQuery.omit({ format: true }).extend({
            tolerance: z.coerce
              .number()
              .gt(0)
              .max(1)
              .default(0.05)
              .describe('the basin: base LRs within this relative distance of the best'),
            alpha: z.coerce.number().gt(0).max(0.5).default(0.05),
          }),
          response: { 200: schedulesAnswer, ...errors },
        },
      },
      async (req) => results.schedules(req.params.id, req.auth.projectId, req.query),
    );

    app.get(
      '/sweeps/:id/transfer',
      {
        schema: {
          tags: ['results'],
          summary:
            'LR transfer across scale: η* per schedule and scale with intervals, the law η* = a·scale^b, its extrapolation to the target, and whether the winner changes',
          params: idParamsSchema,
          querystring: transferQuery,
          response: { 200: transferAnswer, ...errors, 409: errorBodySchema },
        },
      },
      async (req) => sweepTransfer({ db: deps.db }, req.params.id, req.auth.projectId, req.query),
    );

    app.get(
      '/sweeps/:id/range-test',
      {
        schema: {
          tags: ['results'],
          summary:
            "An LR range test's answer: loss against LR (seeds averaged, smoothed) and the base-LR grid it suggests",
          params: idParamsSchema,
          response: { 200: rangeTestAnswerSchema, ...errors, 409: errorBodySchema },
        },
      },
      async (req) => results.rangeTest(req.params.id, req.auth.projectId),
    );

    app.get(
      '/sweeps/:id/curves',
      {
        serializerCompiler: plainJson,
        schema: {
          tags: ['results'],
          summary: 'Step-aligned mean ± 95% CI across seeds per configuration, downsampled, with the applied LR',
          params: idParamsSchema,
          querystring: curvesQuery,
          response: { 200: curvesAnswer, ...errors },
        },
      },
      async (req, reply) => {
        const c = await results.curves(req.params.id, req.auth.projectId, req.query);
        if (req.query.format === 'json') return c;
        const rows = c.curves.flatMap((cv) =>
          cv.steps.map((step, i) => [
            cv.configId,
            cv.baseLr,
            cv.label,
            step,
            cv.n[i],
            cv.mean[i],
            cv.ci95Lo[i],
            cv.ci95Hi[i],
          ]),
        );
        const csv = toCsv(['configId', 'baseLr', 'label', 'step', 'n', `mean_${c.metric}`, 'ci95_lo', 'ci95_hi'], rows);
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="curves-${req.params.id}.csv"`)
          .send(csv as never);
      },
    );
  };
