import { claimAnswer, claimBody, idParamsSchema } from '@lrsweep/contract';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { agentErrors as errors, type AgentRouteDeps, limits, tags } from './agent-route-shared';

/** An agent claims its pool's next trial: a long poll that ends on a trial, its wait, a hang-up or a revoked token. */
export const agentClaimRoute =
  (deps: AgentRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const { agents } = deps;
    const { claim } = limits;
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
  };
