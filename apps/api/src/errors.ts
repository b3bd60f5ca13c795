import { type SpecIssue, toSpecIssues } from '@lrsweep/schedules';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { FastifySchemaCompiler } from 'fastify';
import { z } from 'zod';

/** An error the API answers with its own status and code: `{ code, message, issues? }`. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly issues?: SpecIssue[],
  ) {
    super(message);
  }
}

export const notFound = (what: string, id: string) =>
  new ApiError(404, `${what.toUpperCase()}_NOT_FOUND`, `${what} ${id} does not exist`);

/** Thrown by the validator: carries the request part and the zod issues. */
export class RequestValidationError extends Error {
  statusCode = 400;
  constructor(
    readonly part: string,
    readonly issues: SpecIssue[],
  ) {
    super(`invalid ${part}`);
  }
}

/** Validates request parts with their zod schemas; problems keep their field paths. */
export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    const r = schema.safeParse(data);
    if (r.success) return { value: r.data };
    return { error: new RequestValidationError(httpPart ?? 'request', toSpecIssues(r.error)) };
  };

export const errorBodySchema = z
  .object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Error' });

/** One error handler for the whole API: coded errors in the contract's shape, never internals. */
export function registerErrorHandler(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof ApiError) {
      return reply.status(err.statusCode).send({ code: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) });
    }
    const cause = (err as { cause?: unknown }).cause ?? err;
    if (cause instanceof RequestValidationError) {
      const code = cause.part === 'body' ? 'SPEC_INVALID' : 'REQUEST_INVALID';
      const message = cause.issues.map((i) => `${i.path || cause.part}: ${i.message}`).join('; ');
      return reply.status(400).send({ code, message, issues: cause.issues });
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send({ code: 'BODY_TOO_LARGE', message: 'the request body is larger than the limit' });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.status(415).send({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send JSON (Content-Type: application/json)' });
    }
    if (err.statusCode === 400 && (err instanceof SyntaxError || err.code?.startsWith('FST_ERR_CTP'))) {
      return reply.status(400).send({ code: 'MALFORMED_JSON', message: `the body is not valid JSON: ${err.message}` });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send({ code: err.code ?? 'BAD_REQUEST', message: err.message });
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ code: 'INTERNAL', message: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
}
