import {
  agentLimits,
  agentRegistered,
  agentsAnswer,
  attemptBody,
  checkpointBody,
  claimAnswer,
  claimBody,
  errorBodySchema,
  evalBody,
  failBody,
  fleetPageQuery,
  idParamsSchema,
  lrAnswer,
  lrQuery,
  paramGroupsBody,
  registerAgentBody,
  reportAnswer,
  updatesBody,
  registerBodyLimit,
  updatesBodyLimit,
} from '@lrsweep/contract';
import { type Db, listAgents } from '@lrsweep/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Revocations } from '../revocations';
import type { AgentService } from '../services/agent-service';

const errors = {
  400: errorBodySchema,
  401: errorBodySchema,
  403: errorBodySchema,
  404: errorBodySchema,
  409: errorBodySchema,
  429: errorBodySchema,
};
const done = z.object({ ok: z.literal(true), status: z.string() });

/**
 * The agent protocol, version 2 (docs/agents.md): register, heartbeat, claim (a long poll of at
 * most 20 s), and the reports of a claimed trial, each carrying its attempt and the lease token
 * the claim returned. Each route draws from its agent bucket (`config.agentLimit`, agent-limits.ts).
 */
export const agentRoutes =
  (deps: { db: Db; agents: AgentService; revocations: Revocations; aliveMs: number }): FastifyPluginAsyncZod =>
  async (app) => {
    const { agents } = deps;
    const tags = ['agents'];
    const register = { agentLimit: 'register' as const };
    const claim = { agentLimit: 'claim' as const };
    const report = { agentLimit: 'report' as const };
    const control = { agentLimit: 'control' as const };
    app.post(
      '/agents',
      {
        config: {
          ...register,
          tooLarge: `a registration is at most ${registerBodyLimit} bytes: labels: at most ${agentLimits.maxLabels} labels, ${agentLimits.maxLabelChars} characters in all`,
        },
        // Refused as it arrives: a flood of huge registrations is never parsed.
        bodyLimit: registerBodyLimit,
        schema: {
          tags,
          summary: 'Register an agent of a pool',
          body: registerAgentBody,
          response: { 201: agentRegistered, 413: errorBodySchema, 426: errorBodySchema, ...errors },
        },
      },
      async (req, reply) => reply.status(201).send(await agents.register(req.auth, req.body)),
    );
    app.get(
      '/agents',
      {
        schema: {
          tags,
          summary:
            "A page of the project's agents (≤ 100, in id order; follow nextCursor): last heartbeat, alive, current trial. A pool-scoped token sees its pools' agents only.",
          querystring: fleetPageQuery,
          response: { 200: agentsAnswer, ...errors },
        },
      },
      async (req) => {
        const now = Date.now();
        const pools = req.auth.role === 'agent' ? req.auth.pools : undefined;
        const page = await listAgents(
          deps.db,
          req.auth.projectId,
          { limit: req.query.limit, after: req.query.cursor },
          pools,
        );
        return {
          nextCursor: page.next,
          agents: page.agents.map((a) => ({
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
    app.post(
      '/agents/:id/heartbeat',
      {
        config: claim,
        schema: {
          tags,
          summary: 'The agent is alive',
          params: idParamsSchema,
          response: { 200: z.object({ ok: z.literal(true) }), ...errors },
        },
      },
      async (req) => agents.heartbeat(req.auth, req.params.id),
    );
    app.post(
      '/agents/:id/claim',
      {
        config: claim,
        schema: {
          tags,
          summary:
            "Claim the next trial of the agent's pool (waits up to waitMs, at most 20 s; trial null when none came). The trial carries its attempt's leaseToken.",
          params: idParamsSchema,
          body: claimBody,
          response: { 200: claimAnswer, ...errors },
        },
      },
      async (req) => {
        // The long poll ends early when the agent hangs up (no trial is claimed for nobody), and
        // at once with 401 when its token is revoked (by any API process).
        const gone = new AbortController();
        let hungUp = false;
        const ended = () => gone.abort();
        const closed = () => {
          hungUp = true;
          gone.abort();
        };
        req.raw.once('close', ended);
        // (Removed again below: a keep-alive connection carries many claims.)
        req.socket.once('close', closed);
        const revoked = new AbortController();
        const unlisten = deps.revocations.onRevoked(req.auth.tokenId, () => revoked.abort());
        try {
          const trial = await agents.claim(req.auth, req.params.id, req.body.waitMs, gone.signal, revoked.signal);
          // An agent whose connection closed while its claim was being made (SIGTERM on a Slurm
          // job, say) never hears of the trial: give it back at once rather than leave it to a lease.
          if (trial && hungUp) {
            await agents
              .release(req.auth, trial.id, trial.attempt, trial.leaseToken)
              .catch((err) => req.log.warn({ err, trialId: trial.id }, 'claim: could not give back an unheard claim'));
            return { trial: null };
          }
          return { trial };
        } finally {
          unlisten();
          req.raw.off('close', ended);
          req.socket.off('close', closed);
        }
      },
    );
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
