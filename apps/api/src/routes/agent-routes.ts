import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { agentClaimRoute } from './agent-claim-route';
import { agentRegistryRoutes } from './agent-registry-routes';
import type { AgentRouteDeps } from './agent-route-shared';
import { agentTrialRoutes } from './agent-trial-routes';

/**
 * The agent protocol, version 2 (docs/agents.md): register, heartbeat, claim (a long poll of at
 * most 20 s), and the reports of a claimed trial, each carrying its attempt and the lease token
 * the claim returned. Each route draws from its agent bucket (`config.agentLimit`, agent-limits.ts).
 */
export const agentRoutes =
  (deps: AgentRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    await app.register(agentRegistryRoutes(deps));
    await app.register(agentClaimRoute(deps));
    await app.register(agentTrialRoutes(deps));
  };
