import {
  agentLimits,
  attemptBody,
  checkpointBody,
  errorBodySchema,
  evalBody,
  failBody,
  idParamsSchema,
  lrAnswer,
  lrQuery,
  paramGroupsBody,
  reportAnswer,
  rungAnswer,
  rungBody,
  rungQuery,
  updatesBody,
  updatesBodyLimit,
} from '@lrsweep/contract';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { agentErrors as errors, type AgentRouteDeps, done, limits, tags } from './agent-route-shared';

/** A claimed trial's reports and ends, each carrying its attempt and lease token (fenced by the agent service). */
export const agentTrialRoutes =
  (deps: AgentRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const { agents } = deps;
    const { report, control } = limits;
    app.post(
      '/trials/:id/lease',
      {
        config: control,
        schema: {
          tags,
          summary: "Renew a claimed trial's lease",
          params: idParamsSchema,
          body: attemptBody,
          response: { 200: reportAnswer, ...errors },
        },
      },
      async (req) => agents.lease(req.auth, req.params.id, req.body.attempt, req.body.leaseToken),
    );
    app.post(
      '/trials/:id/updates',
      {
        config: {
          ...report,
          tooLarge: `an update batch is at most ${updatesBodyLimit} bytes (updates: at most ${agentLimits.maxBatchRows} rows)`,
        },
        // Sized for the documented batch: 10 000 rows at their longest; every other route keeps BODY_LIMIT.
        bodyLimit: updatesBodyLimit,
        schema: {
          tags,
          summary: `Update rows (step, lr, loss), at most ${agentLimits.maxBatchRows} a batch; each lr is checked against the schedule`,
          params: idParamsSchema,
          body: updatesBody,
          response: { 200: reportAnswer, 422: errorBodySchema, ...errors },
        },
      },
      async (req) => agents.updates(req.auth, req.params.id, req.body.attempt, req.body.leaseToken, req.body.updates),
    );
    app.post(
      '/trials/:id/evals',
      {
        config: report,
        schema: {
          tags,
          summary: 'An evaluation after `step` updates',
          params: idParamsSchema,
          body: evalBody,
          response: { 200: reportAnswer, ...errors },
        },
      },
      async (req) =>
        agents.evaluation(
          req.auth,
          req.params.id,
          req.body.attempt,
          req.body.leaseToken,
          req.body.step,
          req.body.metrics,
        ),
    );
    app.post(
      '/trials/:id/checkpoints',
      {
        config: report,
        schema: {
          tags,
          summary: 'A checkpoint marker covering updates 0 … step (its rows must all be sent)',
          params: idParamsSchema,
          body: checkpointBody,
          response: { 200: reportAnswer, ...errors },
        },
      },
      async (req) =>
        agents.checkpoint(req.auth, req.params.id, req.body.attempt, req.body.leaseToken, req.body.step, req.body.uri),
    );
    app.post(
      '/trials/:id/complete',
      {
        config: control,
        schema: {
          tags,
          summary: 'Complete (every update sent)',
          params: idParamsSchema,
          body: attemptBody,
          response: { 200: done, ...errors },
        },
      },
      async (req) => agents.complete(req.auth, req.params.id, req.body.attempt, req.body.leaseToken),
    );
    app.post(
      '/trials/:id/fail',
      {
        config: control,
        schema: {
          tags,
          summary: 'Fail, saying whether a retry can help',
          params: idParamsSchema,
          body: failBody,
          response: { 200: done, ...errors },
        },
      },
      async (req) =>
        agents.fail(
          req.auth,
          req.params.id,
          req.body.attempt,
          req.body.leaseToken,
          req.body.message,
          req.body.retryable,
        ),
    );
    app.post(
      '/trials/:id/param-groups',
      {
        config: control,
        schema: {
          tags,
          summary:
            "The attempt's optimizer parameter groups, once per attempt: group 0 at the schedule's rate (1×), the others' multiples of it and weight decay",
          params: idParamsSchema,
          body: paramGroupsBody,
          response: { 200: reportAnswer, ...errors },
        },
      },
      async (req) =>
        agents.paramGroups(req.auth, req.params.id, req.body.attempt, req.body.leaseToken, req.body.groups),
    );
    app.post(
      '/trials/:id/release',
      {
        config: control,
        schema: {
          tags,
          summary: 'Give the trial back (the agent stops); another agent resumes it',
          params: idParamsSchema,
          body: attemptBody,
          response: { 200: done, ...errors },
        },
      },
      async (req) => agents.release(req.auth, req.params.id, req.body.attempt, req.body.leaseToken),
    );
    app.get(
      '/trials/:id/rung',
      {
        config: report,
        schema: {
          tags,
          summary: "An ASHA trial's next rung and the rates of its cooldown side branch",
          params: idParamsSchema,
          querystring: rungQuery,
          response: { 200: rungAnswer, ...errors },
        },
      },
      async (req) => agents.rung(req.auth, req.params.id, req.query.attempt, req.query.leaseToken),
    );
    app.post(
      '/trials/:id/rung',
      {
        config: { ...report, tooLarge: `a rung report carries at most ${agentLimits.maxBatchRows} cooldown rows` },
        bodyLimit: updatesBodyLimit,
        schema: {
          tags,
          summary:
            "An ASHA trial judged at its rung: the cooldown side branch (each lr checked; kept out of the series) and the evaluation after it. Answers shouldStop with status paused (it waits for its configuration's decision) or pruned",
          params: idParamsSchema,
          body: rungBody,
          response: { 200: reportAnswer, 422: errorBodySchema, ...errors },
        },
      },
      async (req) => {
        const { attempt, leaseToken, ...body } = req.body;
        return agents.reportRung(req.auth, req.params.id, attempt, leaseToken, body);
      },
    );
    app.get(
      '/trials/:id/lr',
      {
        config: report,
        schema: {
          tags,
          summary: "The schedule's rates for a range of updates",
          params: idParamsSchema,
          querystring: lrQuery,
          response: { 200: lrAnswer, ...errors },
        },
      },
      async (req) =>
        agents.lr(req.auth, req.params.id, req.query.attempt, req.query.leaseToken, req.query.from, req.query.count),
    );
  };
