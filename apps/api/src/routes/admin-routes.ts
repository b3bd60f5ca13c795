import { type Caller, can, createTokenBody, errorBodySchema, projectIdSchema, tokenView } from '@lrsweep/contract';
import { createToken, type Db, listTokens, revokeToken } from '@lrsweep/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError, notFound } from '../errors';
import type { Revocations } from '../revocations';

const view = (
  t: { createdAt: Date; revokedAt: Date | null } & Omit<z.output<typeof tokenView>, 'createdAt' | 'revokedAt'>,
) => ({
  id: t.id,
  projectId: t.projectId,
  name: t.name,
  role: t.role,
  pools: t.pools,
  createdAt: t.createdAt.toISOString(),
  revokedAt: t.revokedAt?.toISOString() ?? null,
});

/** The project a token route acts on: an admin's own only; an operator's any. */
function projectScope(caller: Caller, asked: string | undefined): string | undefined {
  if (can.crossProject(caller)) return asked;
  if (asked !== undefined && asked !== caller.projectId)
    throw new ApiError('FORBIDDEN', `an ${caller.role} token acts on its own project (${caller.projectId}) only`);
  return caller.projectId;
}

/**
 * Token administration: admin tokens for their own project, the operator (bootstrap) token for
 * any. A token is shown once, when created.
 */
export const adminRoutes =
  (deps: { db: Db; revocations: Revocations }): FastifyPluginAsyncZod =>
  async (app) => {
    const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema };
    app.post(
      '/admin/tokens',
      {
        schema: {
          tags: ['admin'],
          summary: 'Create an API token for a project (the project is made if new)',
          description:
            'role admin, member (default) or agent (with the pools it serves); admin tokens create tokens of their own project only.',
          body: createTokenBody,
          response: { 201: tokenView.extend({ token: z.string() }), ...errors },
        },
      },
      async (req, reply) => {
        projectScope(req.auth, req.body.projectId);
        const t = await createToken(deps.db, req.body);
        return reply.status(201).send({ ...view(t), token: t.token });
      },
    );
    app.get(
      '/admin/tokens',
      {
        schema: {
          tags: ['admin'],
          summary: "List tokens (never their values): an admin's project's, or any project's for the operator",
          querystring: z.strictObject({ projectId: projectIdSchema.optional() }),
          response: { 200: z.object({ tokens: z.array(tokenView) }), ...errors },
        },
      },
      async (req) => ({ tokens: (await listTokens(deps.db, projectScope(req.auth, req.query.projectId))).map(view) }),
    );
    app.post(
      '/admin/tokens/:id/revoke',
      {
        schema: {
          tags: ['admin'],
          summary: 'Revoke a token (idempotent)',
          params: z.strictObject({ id: z.uuid() }),
          response: { 200: z.object({ id: z.uuid(), revoked: z.literal(true) }), ...errors },
        },
      },
      async (req) => {
        if (!(await revokeToken(deps.db, req.params.id, projectScope(req.auth, undefined))))
          throw notFound('token', req.params.id);
        // Every API process drops it from its cache and ends its open claims (401) at once.
        await deps.revocations.publish(req.params.id);
        return { id: req.params.id, revoked: true as const };
      },
    );
  };
