import pino, { type DestinationStream, type Logger } from 'pino';

/** Tokens never reach the logs: the Authorization header and any `token` field are redacted. */
export const redactedPaths = ['req.headers.authorization', 'headers.authorization', 'token', '*.token'];

/** The API's logger (main.ts and the tests use the same options). */
export function createApiLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { app: 'api' }, redact: { paths: redactedPaths, censor: '[redacted]' } }, destination);
}
