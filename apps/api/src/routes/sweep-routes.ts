import {
  extendAnswer,
  extendSweepBody,
  cancelAnswer,
  errorBodySchema,
  idParamsSchema,
  pageQuerySchema,
  retryAnswer,
  sweepCreatedSchema,
  sweepDetailSchema,
  sweepSpecSchema,
  sweepSummarySchema,
  trialListQuerySchema,
  trialSchema,
  validateAnswer,
} from '@lrsweep/contract';
import {
  type Db,
  failureSummary,
  sweepNumericsView,
  forkPlanOf,
  getSweep,
  listSweeps,
  listTrials,
  type SweepView,
} from '@lrsweep/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../errors';
import type { createSweepService } from '../services/sweep-service';
import { toCsv } from '../csv';
import { trialsCsvRows, trialView } from './trial-view';

const summary = (s: SweepView) => ({
  id: s.id,
  name: s.name,
  status: s.status,
  counts: s.counts,
  trialCount: s.trialCount,
  runner: s.runnerKind,
  pool: s.pool,
  selectedOn: s.selectedOn,
  createdAt: s.createdAt.toISOString(),
  cancelledAt: s.cancelledAt?.toISOString() ?? null,
  endedAt: s.endedAt?.toISOString() ?? null,
});

export const sweepRoutes =
  (deps: {
    db: Db;
    sweeps: ReturnType<typeof createSweepService>;
    /** A built-in worker silent this long is not counted as able to run a sweep's numerics key. */
    workerLostAfterMs?: number;
  }): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, sweeps } = deps;
    const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema };

    app.post(
      '/sweeps',
      {
        schema: {
          tags: ['sweeps'],
          summary: 'Submit a sweep',
          description:
            'With an Idempotency-Key header, a repeated request (same key, same body, within 24 h) answers the first sweep; the same key with another body answers 409. Answers within seconds whatever Redis does: delivery "pending" means the queue could not take the jobs now and the reconciler delivers them.',
          headers: z.looseObject({ 'idempotency-key': z.string().min(1).max(200).optional() }),
          body: sweepSpecSchema,
          response: { 201: sweepCreatedSchema, 409: errorBodySchema, 413: errorBodySchema, ...errors },
        },
      },
      async (req, reply) => {
        const { replayed, ...created } = await sweeps.submit(
          req.body,
          req.auth.projectId,
          req.headers['idempotency-key'],
        );
        if (replayed) reply.header('idempotent-replayed', 'true');
        return reply.status(201).send(created);
      },
    );

    app.post(
      '/sweeps/validate',
      {
        // Problems are the answer here, not an error: they come back with valid: false.
        attachValidation: true,
        schema: {
          tags: ['sweeps'],
          summary: 'Check a spec and count its trials without submitting it',
          description: 'Answers valid: false with every problem (path and message) instead of a 400.',
          body: sweepSpecSchema,
          response: { 200: validateAnswer, ...errors },
        },
      },
      async (req) => {
        const problem = req.validationError as (Error & { issues?: { path: string; message: string }[] }) | undefined;
        if (problem)
          return { valid: false as const, issues: problem.issues ?? [{ path: '', message: problem.message }] };
        return sweeps.validate(req.body);
      },
    );

    app.post(
      '/sweeps/:id/cancel',
      {
        schema: {
          tags: ['sweeps'],
          summary: 'Cancel: queued trials are dropped, running ones stop within seconds; 409 once the sweep has ended',
          params: idParamsSchema,
          response: { 200: cancelAnswer, 409: errorBodySchema, ...errors },
        },
      },
      async (req) => {
        const r = await sweeps.cancel(req.params.id, req.auth.projectId);
        return { cancelledTrials: r.cancelledTrials, sweep: summary(r.sweep) };
      },
    );

    app.delete(
      '/sweeps/:id',
      {
        schema: {
          tags: ['sweeps'],
          summary: 'Delete a sweep: its trials, metrics and results (running trials stop as on cancel)',
          params: idParamsSchema,
          response: { 200: z.object({ deleted: z.literal(true), id: z.uuid(), trials: z.number().int() }), ...errors },
        },
      },
      async (req) => sweeps.remove(req.params.id, req.auth.projectId),
    );

    app.post(
      '/sweeps/:id/extend',
      {
        schema: {
          tags: ['sweeps'],
          summary:
            'Grow a sweep: merge base LRs, schedules, seeds or trainer axes into its grid; the new trials are queued, existing ones never change',
          params: idParamsSchema,
          headers: z.looseObject({ 'idempotency-key': z.string().min(1).max(200).optional() }),
          body: extendSweepBody,
          response: { 200: extendAnswer, 409: errorBodySchema, ...errors },
        },
      },
      async (req) => sweeps.extend(req.params.id, req.auth.projectId, req.body, req.headers['idempotency-key']),
    );

    app.post(
      '/sweeps/:id/retry',
      {
        schema: {
          tags: ['sweeps'],
          summary: 'Re-run the failed trials, and only those, with a fresh failure budget; 409 when none failed',
          params: idParamsSchema,
          response: { 200: retryAnswer, 409: errorBodySchema, ...errors },
        },
      },
      async (req) => {
        const r = await sweeps.retry(req.params.id, req.auth.projectId);
        return { retriedTrials: r.retriedTrials, sweep: summary(r.sweep) };
      },
    );

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
          ...(s.runnerKind === 'builtin' ? await sweepNumericsView(db, s.id, deps.workerLostAfterMs ?? 30_000) : {}),
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
