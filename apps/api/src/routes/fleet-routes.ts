import { can, errorBodySchema, fleetPageQuery, workersAnswer } from '@lrsweep/contract';
import { type Db, listFleet } from '@lrsweep/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema };

/**
 * GET /v1/workers: built-in workers and external agents in one list, with what each runs now.
 * Built-in workers serve every project: a caller sees its own project's trials on them by id and
 * other projects' only as a count (an operator sees them all).
 */
export const fleetRoutes =
  (deps: { db: Db; agentAliveMs: number; workerLostAfterMs: number }): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/workers',
      {
        schema: {
          tags: ['agents'],
          summary:
            'The fleet, a page at a time (≤ 100, in id order; follow nextCursor): built-in workers and agents, their pools, backend, slots, heartbeat, state and running trials',
          querystring: fleetPageQuery,
          response: { 200: workersAnswer, ...errors },
        },
      },
      async (req) => {
        const all = can.crossProject(req.auth);
        const now = Date.now();
        const fleet = await listFleet(deps.db, all ? null : req.auth.projectId, {
          limit: req.query.limit,
          after: req.query.cursor,
        });
        return {
          nextCursor: fleet.next,
          workers: fleet.workers.map((w) => {
            const mine = w.running.filter((t) => all || t.projectId === req.auth.projectId);
            const silentFor = now - w.lastHeartbeatAt.getTime();
            const lostAfter = w.kind === 'agent' ? deps.agentAliveMs : deps.workerLostAfterMs;
            return {
              id: w.id,
              kind: w.kind === 'agent' ? ('agent' as const) : ('worker' as const),
              name: w.name,
              host: w.host,
              pools: w.pool.split(',').filter(Boolean),
              backend: w.backend,
              device: w.device,
              deviceName: w.deviceName,
              deviceMemoryMiB: w.deviceMemoryMiB,
              driver: w.driver,
              framework: w.framework,
              slots: w.slots,
              version: w.version ?? w.sdk,
              startedAt: w.registeredAt.toISOString(),
              lastHeartbeatAt: w.lastHeartbeatAt.toISOString(),
              state: w.stoppedAt
                ? ('stopped' as const)
                : silentFor > lostAfter
                  ? ('lost' as const)
                  : ('alive' as const),
              runningTrials: mine.map((t) => ({ trialId: t.trialId, sweepId: t.sweepId })),
              otherProjectTrials: w.running.length - mine.length,
            };
          }),
        };
      },
    );
  };
