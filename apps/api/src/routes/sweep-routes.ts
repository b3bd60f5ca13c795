import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { sweepReadRoutes } from './sweep-read-routes';
import type { SweepRouteDeps } from './sweep-route-shared';
import { sweepWriteRoutes } from './sweep-write-routes';

/** The sweep routes: what changes sweeps (sweep-write-routes.ts) and what reads them (sweep-read-routes.ts). */
export const sweepRoutes =
  (deps: SweepRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    await app.register(sweepWriteRoutes(deps));
    await app.register(sweepReadRoutes(deps));
  };
