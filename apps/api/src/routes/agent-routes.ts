import {
  agentRegistered,
  agentView,
  attemptBody,
  can,
  checkpointBody,
  claimAnswer,
  claimBody,
  errorBodySchema,
  evalBody,
  failBody,
  idParamsSchema,
  lrAnswer,
  lrQuery,
  registerAgentBody,
  reportAnswer,
  updatesBody,
} from '@lrsweep/contract';
import { type Db, listAgents } from '@lrsweep/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireRole } from '../auth';
import type { AgentService } from '../services/agent-service';

const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema };
const done = z.object({ ok: z.literal(true), status: z.string() });

/**
 * The agent protocol (docs/agents.md): register, heartbeat, claim (a long poll of at most 20 s),
 * and the reports of a claimed trial, each carrying the attempt it belongs to.
 */
export const agentRoutes =
  (deps: { db: Db; agents: AgentService; aliveMs: number }): FastifyPluginAsyncZod =>
  async (app) => {
    const { agents } = deps;
    const tags = ['agents'];
    app.post('/agents', { schema: { tags, summary: 'Register an agent of a pool', body: registerAgentBody, response: { 201: agentRegistered, 426: errorBodySchema, ...errors } } }, async (req, reply) =>
      reply.status(201).send(await agents.register(req.auth, req.body)),
    );
    app.get(
      '/agents',
      { schema: { tags, summary: "The project's agents: last heartbeat, alive, current trial", response: { 200: z.object({ agents: z.array(agentView) }), ...errors } } },
      async (req) => {
        requireRole(req, (c) => can.useSweeps(c) || c.role === 'agent', 'list agents');
        const now = Date.now();
        return {
          agents: (await listAgents(deps.db, req.auth.projectId)).map((a) => ({
            id: a.id,
            name: a.name,
            pool: a.pool,
            labels: (a.labels ?? {}) as Record<string, string>,
            framework: a.framework,
            device: a.device,
            host: a.host,
            sdk: a.sdk,
            registeredAt: a.registeredAt.toISOString(),
            lastHeartbeatAt: a.lastHeartbeatAt.toISOString(),
            alive: now - a.lastHeartbeatAt.getTime() < deps.aliveMs,
            currentTrialId: a.currentTrialId,
          })),
        };
      },
    );
    app.post('/agents/:id/heartbeat', { schema: { tags, summary: 'The agent is alive', params: idParamsSchema, response: { 200: z.object({ ok: z.literal(true) }), ...errors } } }, async (req) =>
      agents.heartbeat(req.auth, req.params.id),
    );
    app.post(
      '/agents/:id/claim',
      {
        schema: {
          tags,
          summary: "Claim the next trial of the agent's pool (waits up to waitMs, at most 20 s; trial null when none came)",
          params: idParamsSchema,
          body: claimBody,
          response: { 200: claimAnswer, ...errors },
        },
      },
      async (req) => {
        // The long poll ends early when the agent hangs up: no trial is claimed for nobody.
        const gone = new AbortController();
        req.raw.once('close', () => gone.abort());
        req.socket.once('close', () => gone.abort());
        return { trial: await agents.claim(req.auth, req.params.id, req.body.waitMs, gone.signal) };
      },
    );
    app.post('/trials/:id/lease', { schema: { tags, summary: "Renew a claimed trial's lease", params: idParamsSchema, body: attemptBody, response: { 200: reportAnswer, ...errors } } }, async (req) =>
      agents.lease(req.auth, req.params.id, req.body.attempt),
    );
    app.post(
      '/trials/:id/updates',
      { schema: { tags, summary: 'Update rows (step, lr, loss); each lr is checked against the schedule', params: idParamsSchema, body: updatesBody, response: { 200: reportAnswer, 422: errorBodySchema, ...errors } } },
      async (req) => agents.updates(req.auth, req.params.id, req.body.attempt, req.body.updates),
    );
    app.post('/trials/:id/evals', { schema: { tags, summary: 'An evaluation after `step` updates', params: idParamsSchema, body: evalBody, response: { 200: reportAnswer, ...errors } } }, async (req) =>
      agents.evaluation(req.auth, req.params.id, req.body.attempt, req.body.step, req.body.metrics),
    );
    app.post(
      '/trials/:id/checkpoints',
      { schema: { tags, summary: 'A checkpoint marker covering updates 0 … step (its rows must all be sent)', params: idParamsSchema, body: checkpointBody, response: { 200: reportAnswer, ...errors } } },
      async (req) => agents.checkpoint(req.auth, req.params.id, req.body.attempt, req.body.step, req.body.uri),
    );
    app.post('/trials/:id/complete', { schema: { tags, summary: 'Complete (every update sent)', params: idParamsSchema, body: attemptBody, response: { 200: done, ...errors } } }, async (req) =>
      agents.complete(req.auth, req.params.id, req.body.attempt),
    );
    app.post('/trials/:id/fail', { schema: { tags, summary: 'Fail, saying whether a retry can help', params: idParamsSchema, body: failBody, response: { 200: done, ...errors } } }, async (req) =>
      agents.fail(req.auth, req.params.id, req.body.attempt, req.body.message, req.body.retryable),
    );
    app.post('/trials/:id/release', { schema: { tags, summary: 'Give the trial back (the agent stops); another agent resumes it', params: idParamsSchema, body: attemptBody, response: { 200: done, ...errors } } }, async (req) =>
      agents.release(req.auth, req.params.id, req.body.attempt),
    );
    app.get('/trials/:id/lr', { schema: { tags, summary: "The schedule's rates for a range of updates", params: idParamsSchema, querystring: lrQuery, response: { 200: lrAnswer, ...errors } } }, async (req) =>
      agents.lr(req.auth, req.params.id, req.query.attempt, req.query.from, req.query.count),
    );
  };
