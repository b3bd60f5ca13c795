import {
  extendAnswer,
  extendSweepBody,
  cancelAnswer,
  errorBodySchema,
  idParamsSchema,
  retryAnswer,
  sweepCreatedSchema,
  sweepSpecSchema,
  validateAnswer,
} from '@lrsweep/contract';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sweepErrors as errors, type SweepRouteDeps, sweepSummary as summary } from './sweep-route-shared';

/** Submitting, validating, growing, cancelling, retrying and deleting sweeps: each a call of the sweep service. */
export const sweepWriteRoutes =
  (deps: SweepRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const { sweeps } = deps;
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
  };
