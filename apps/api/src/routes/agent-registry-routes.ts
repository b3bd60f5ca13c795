import {
  agentLimits,
  agentRegistered,
  agentsAnswer,
  errorBodySchema,
  fleetPageQuery,
  idParamsSchema,
  registerAgentBody,
  registerBodyLimit,
} from '@lrsweep/contract';
import { listAgents } from '@lrsweep/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { agentErrors as errors, type AgentRouteDeps, limits, tags } from './agent-route-shared';

/** Agents register, are listed (a page at a time) and say they are alive. */
export const agentRegistryRoutes =
  (deps: AgentRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const { agents } = deps;
    const { register, claim } = limits;
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
  };
