import { z } from 'zod';

/**
 * Every code an API error answers with, its HTTP status and what it means: one catalog, literal
 * codes (grep-able). The body is always `{ code, message, issues? }`.
 */
export const apiErrors = {
  SPEC_INVALID: { status: 400, description: 'the sweep spec (or another body) is invalid; issues name the fields' },
  REQUEST_INVALID: { status: 400, description: 'a path or query parameter is invalid' },
  MALFORMED_JSON: { status: 400, description: 'the body is not JSON, nests too deep, or repeats a key' },
  BAD_REQUEST: { status: 400, description: 'the request is not understood' },
  UNAUTHENTICATED: { status: 401, description: 'no token, or an unknown or revoked one' },
  FORBIDDEN: { status: 403, description: "the token's role may not do this" },
  ROUTE_NOT_FOUND: { status: 404, description: 'no such route' },
  SWEEP_NOT_FOUND: { status: 404, description: 'no such sweep in this project' },
  TRIAL_NOT_FOUND: { status: 404, description: 'no such trial in this project' },
  TOKEN_NOT_FOUND: { status: 404, description: 'no such token' },
  AGENT_NOT_FOUND: { status: 404, description: 'no such agent in this project' },
  IDEMPOTENCY_CONFLICT: { status: 409, description: 'this Idempotency-Key was used with another body' },
  SWEEP_UNCHANGED: {
    status: 409,
    description: 'cancel or retry would change nothing (already ended, cancelled, or nothing failed)',
  },
  SWEEP_CANCELLED: { status: 409, description: 'the sweep is cancelled' },
  NOT_A_RANGE_TEST: {
    status: 409,
    description: 'the sweep is a grid search, not an LR range test (or the other way round)',
  },
  NO_RUNG: {
    status: 409,
    description:
      'the trial has no such rung to be judged at: not an ASHA trial, past its last rung, or another rung than its next',
  },
  NOT_A_TRANSFER_STUDY: {
    status: 409,
    description: 'the sweep marks no scale axis (its spec has no transfer block): there is no η* across scales to fit',
  },
  STALE_ATTEMPT: {
    status: 409,
    description:
      'the attempt may no longer write (reason: cancelled, deleted, superseded, lease_lost or ended): stop that trial',
  },
  LEASE_MISMATCH: {
    status: 409,
    description: "the write does not carry the attempt's lease token from its claim: nothing was written",
  },
  TRIAL_NOT_DONE: { status: 409, description: 'the trial has not reached its horizon' },
  CHECKPOINT_INCOMPLETE: { status: 409, description: 'a checkpoint marker was sent before the update rows it covers' },
  PARAM_GROUPS_DECLARED: {
    status: 409,
    description:
      "the attempt's parameter groups were declared already, differently (they are declared once per attempt)",
  },
  SCHEDULE_MISMATCH: { status: 422, description: "a reported lr is not the schedule's: the trial failed (no retry)" },
  PROTOCOL_INCOMPATIBLE: { status: 426, description: "the agent SDK's protocol version is not supported" },
  BODY_TOO_LARGE: { status: 413, description: 'the body is larger than the limit' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'send JSON' },
  RATE_LIMITED: { status: 429, description: 'too many requests; Retry-After says when to try again' },
  INTERNAL: { status: 500, description: 'an unexpected error (details are in the logs, never in the answer)' },
  QUEUE_UNAVAILABLE: { status: 503, description: 'the trial queue (Redis) is unavailable' },
  DATABASE_UNAVAILABLE: { status: 503, description: 'Postgres is unavailable or out of connections' },
} as const satisfies Record<string, { status: number; description: string }>;
export type ApiErrorCode = keyof typeof apiErrors;

export const errorBodySchema = z
  .object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    /** STALE_ATTEMPT: why the attempt must stop (cancelled, deleted, superseded, lease_lost, ended). */
    reason: z.string().optional(),
  })
  .meta({ id: 'Error' });
export type ApiErrorBody = {
  code: ApiErrorCode | (string & {});
  message: string;
  issues?: { path: string; message: string }[];
  reason?: string;
};

/**
 * Why a trial attempt failed, classified once. Retryable failures spend the trial's attempt budget
 * and run again (another attempt, resuming from its checkpoint); terminal ones fail the trial at
 * once: no retry can mend them.
 */
export const trialErrors = {
  CONFIG_INVALID: {
    retryable: false,
    description: 'the trial config cannot train (a shape that does not fit, an unknown option)',
  },
  DATASET_INVALID: {
    retryable: false,
    description: 'the dataset is missing, unreadable, corrupt or outside DATA_ROOT',
  },
  MODEL_INVALID: { retryable: false, description: 'the model file is missing, unreadable, or does not fit the data' },
  RESOURCE_EXHAUSTED: { retryable: false, description: 'the trial needs more memory than the backend has' },
  TRAINING_ERROR: { retryable: false, description: 'training raised an error (deterministic: it would again)' },
  SCHEDULE_MISMATCH: { retryable: false, description: "the trainer applied a rate other than the schedule's" },
  TRAINER_FAILED: { retryable: false, description: 'an external trainer failed and said a retry cannot help' },
  WORKER_CRASHED: { retryable: true, description: 'the training thread or process died' },
  LEASE_LOST: {
    retryable: true,
    description: 'the worker or agent stopped renewing its lease (gone, partitioned, silent)',
  },
  INFRASTRUCTURE: { retryable: true, description: 'Postgres, Redis or the file system failed' },
  TRAINER_RETRYABLE: { retryable: true, description: 'an external trainer failed and said a retry may help' },
} as const satisfies Record<string, { retryable: boolean; description: string }>;
export type TrialErrorCode = keyof typeof trialErrors;
export const trialErrorCodeSchema = z.enum(Object.keys(trialErrors) as [TrialErrorCode, ...TrialErrorCode[]]);
export const isRetryable = (code: TrialErrorCode) => trialErrors[code].retryable;

/**
 * A trial failure as it crosses boundaries (training thread → worker → Postgres → API): a name,
 * a catalog code, a message and, where one exists, the stack.
 */
export interface TrialFailure {
  name: string;
  code: TrialErrorCode;
  message: string;
  stack?: string;
}

/** An error that carries a trial error code (thrown by the trainer, the worker and the agents' routes). */
export class TrialError extends Error {
  override readonly name = 'TrialError';
  constructor(
    readonly code: TrialErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get retryable() {
    return isRetryable(this.code);
  }
}

/** Any thrown value as a `TrialFailure`: coded errors keep their code, anything else gets `fallback`. */
export function toTrialFailure(err: unknown, fallback: TrialErrorCode): TrialFailure {
  if (err && typeof err === 'object') {
    const e = err as { name?: unknown; code?: unknown; message?: unknown; stack?: unknown };
    const code = typeof e.code === 'string' && e.code in trialErrors ? (e.code as TrialErrorCode) : fallback;
    return {
      name: typeof e.name === 'string' ? e.name : 'Error',
      code,
      message: typeof e.message === 'string' ? e.message : String(err),
      ...(typeof e.stack === 'string' ? { stack: e.stack } : {}),
    };
  }
  return { name: 'Error', code: fallback, message: String(err) };
}

/** A `TrialFailure` back as an Error (its stack kept), e.g. after crossing a thread boundary. */
export function fromTrialFailure(f: TrialFailure): TrialError {
  const e = new TrialError(f.code, f.message);
  if (f.stack) e.stack = f.stack;
  return e;
}
