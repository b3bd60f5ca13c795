import { type ApiErrorCode, apiErrors, type StaleReason } from '@lrsweep/contract';
import { type SpecIssue, toSpecIssues } from '@lrsweep/schedules';
import type { FastifyError, FastifyInstance, FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';

/** An error the API answers with its catalog status and code: `{ code, message, issues? }`. */
export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly issues?: SpecIssue[],
    /** Extra headers (Retry-After). */
    readonly headers?: Record<string, string>,
    /** STALE_ATTEMPT: why the attempt must stop. */
    readonly reason?: StaleReason,
  ) {
    super(message);
    this.statusCode = apiErrors[code].status;
  }
}

/** 409 STALE_ATTEMPT: the attempt may no longer write, and why (the agent stops that trial and goes on). */
export const staleAttempt = (reason: StaleReason, message: string) =>
  new ApiError('STALE_ATTEMPT', message, undefined, undefined, reason);

export const notFound = (what: 'sweep' | 'trial' | 'token' | 'agent', id: string) =>
  new ApiError(`${what.toUpperCase() as Uppercase<typeof what>}_NOT_FOUND`, `${what} ${id} does not exist`);

/** Thrown by the validator: carries the request part and the zod issues. */
class RequestValidationError extends Error {
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

/** One error handler for the whole API: coded errors in the contract's shape, never internals. */
export function registerErrorHandler(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof ApiError) {
      if (err.headers) reply.headers(err.headers);
      return reply.status(err.statusCode).send({
        code: err.code,
        message: err.message,
        ...(err.issues ? { issues: err.issues } : {}),
        ...(err.reason ? { reason: err.reason } : {}),
      });
    }
    const cause = (err as { cause?: unknown }).cause ?? err;
    if (cause instanceof RequestValidationError) {
      const code = cause.part === 'body' ? 'SPEC_INVALID' : 'REQUEST_INVALID';
      const message = cause.issues.map((i) => `${i.path || cause.part}: ${i.message}`).join('; ');
      return reply.status(400).send({ code, message, issues: cause.issues });
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const says = req.routeOptions.config?.tooLarge;
      return reply.status(413).send({
        code: 'BODY_TOO_LARGE',
        message: says ? `the request body is too large: ${says}` : 'the request body is larger than the limit',
      });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply
        .status(415)
        .send({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send JSON (Content-Type: application/json)' });
    }
    if (err.statusCode === 400 && (err instanceof SyntaxError || err.code?.startsWith('FST_ERR_CTP'))) {
      return reply.status(400).send({ code: 'MALFORMED_JSON', message: `the body is not valid JSON: ${err.message}` });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      // A plugin's coded error (the rate limiter's RATE_LIMITED) keeps its code when the catalog has it.
      const code = err.code && err.code in apiErrors ? err.code : 'BAD_REQUEST';
      return reply.status(err.statusCode).send({ code, message: err.message });
    }
    if (databaseUnavailable(err)) {
      req.log.warn({ err }, 'database unavailable');
      return reply.status(503).header('retry-after', '5').send({
        code: 'DATABASE_UNAVAILABLE',
        message: 'the database is unavailable or out of connections; retry shortly',
      });
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ code: 'INTERNAL', message: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
}

const unavailableCodes = new Set([
  'P1001',
  'P1002',
  'P1017',
  'P2024',
  '53300',
  '53400',
  '57P01',
  '57P02',
  '57P03',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
]);
const unavailableKinds = new Set(['TooManyConnections', 'DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout']);

/**
 * Postgres down, restarting, or out of connections: the client may retry, so it is a 503. Prisma
 * wraps the driver's error (meta.driverAdapterError.cause.originalCode / kind); node's sit in `cause`.
 */
function databaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 6) return false;
  const e = err as {
    code?: unknown;
    originalCode?: unknown;
    kind?: unknown;
    message?: unknown;
    cause?: unknown;
    meta?: { driverAdapterError?: unknown };
  };
  for (const c of [e.code, e.originalCode]) if (typeof c === 'string' && unavailableCodes.has(c)) return true;
  if (typeof e.kind === 'string' && unavailableKinds.has(e.kind)) return true;
  if (
    typeof e.message === 'string' &&
    /too many (clients|connections)|remaining connection slots|Connection terminated|timeout exceeded when trying to connect/i.test(
      e.message,
    )
  )
    return true;
  return databaseUnavailable(e.cause, depth + 1) || databaseUnavailable(e.meta?.driverAdapterError, depth + 1);
}
