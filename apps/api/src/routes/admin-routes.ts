import { createToken, type Db, listTokens, revokeToken } from '@lrsweep/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireAdmin } from '../auth';
import { ApiError, errorBodySchema } from '../errors';

export const projectIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a project id is 1–63 lowercase letters, digits and dashes');

export const tokenView = z.object({
  id: z.uuid(),
  projectId: z.string(),
  name: z.string(),
  admin: z.boolean(),
  createdAt: z.iso.datetime(),
  revokedAt: z.iso.datetime().nullable(),
});

/** Token administration: admin tokens only. A token is shown once, when created. */
export const adminRoutes =
  (deps: { db: Db }): FastifyPluginAsyncZod =>
  async (app) => {
    const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema };
    app.post(
      '/v1/admin/tokens',
      {
        schema: {
          tags: ['admin'],
          summary: 'Create an API token for a project (the project is made if new)',
          body: z.strictObject({ projectId: projectIdSchema, name: z.string().min(1).max(200), admin: z.boolean().default(false) }),
          response: { 201: tokenView.extend({ token: z.string() }), ...errors },
        },
      },
      async (req, reply) => {
        requireAdmin(req);
        const t = await createToken(deps.db, req.body);
        return reply.status(201).send({ ...t, createdAt: t.createdAt.toISOString(), revokedAt: null });
      },
    );
    app.get(
      '/v1/admin/tokens',
      {
        schema: {
          tags: ['admin'],
          summary: 'List tokens (never their values)',
          querystring: z.strictObject({ projectId: projectIdSchema.optional() }),
          response: { 200: z.object({ tokens: z.array(tokenView) }), ...errors },
        },
      },
      async (req) => {
        requireAdmin(req);
        const tokens = await listTokens(deps.db, req.query.projectId);
        return { tokens: tokens.map((t) => ({ ...t, createdAt: t.createdAt.toISOString(), revokedAt: t.revokedAt?.toISOString() ?? null })) };
      },
    );
    app.post(
      '/v1/admin/tokens/:id/revoke',
      {
        schema: {
          tags: ['admin'],
          summary: 'Revoke a token (idempotent)',
          params: z.strictObject({ id: z.uuid() }),
          response: { 200: z.object({ id: z.uuid(), revoked: z.literal(true) }), ...errors },
        },
      },
      async (req) => {
        requireAdmin(req);
        if (!(await revokeToken(deps.db, req.params.id))) throw new ApiError(404, 'TOKEN_NOT_FOUND', `token ${req.params.id} does not exist`);
        return { id: req.params.id, revoked: true as const };
      },
    );
  };
