import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Secrets never reach the logs: the Authorization header, any `token` field, and an agent's
 * `leaseToken` (agent protocol 2: in bodies, and in the rate route's query string).
 */
export const redactedPaths = [
  'req.headers.authorization',
  'headers.authorization',
  'token',
  '*.token',
  'leaseToken',
  '*.leaseToken',
];

/** A URL with its `leaseToken` query parameter's value taken out. */
export const redactUrl = (url: string) => url.replace(/([?&]leaseToken=)[^&#]*/g, '$1[redacted]');

/**
 * A fastify request as fastify itself logs it (its serializer's fields), with the URL's secrets
 * redacted; anything else logged under `req` is left to the redaction paths.
 */
function request(req: {
  method?: string;
  url?: string;
  headers?: Record<string, unknown>;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}) {
  return {
    method: req.method,
    url: req.url === undefined ? undefined : redactUrl(req.url),
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/** The API's logger (main.ts and the tests use the same options). */
export function createApiLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'api' },
      redact: { paths: redactedPaths, censor: '[redacted]' },
      serializers: { req: (req) => (req && typeof req === 'object' && 'raw' in req ? request(req) : req) },
    },
    destination,
  );
}
