/**
 * How one attempt of a trial ended, as data: the worker and the agent routes both say it with this,
 * and what the engine does next (`afterTrial`) is a switch over it that the compiler checks is whole.
 * - completed / diverged / failed: the trial ended (a failed one spent its budget or was terminal);
 * - retried: the attempt failed and the trial runs again (one failure of its budget spent);
 * - released: handed back without spending budget (a shutdown, an agent stopping);
 * - paused: stopped checkpointed at an ASHA rung, waiting for its configuration's decision;
 * - superseded: the attempt no longer held the trial (cancelled, deleted, its lease taken over).
 */
export type AttemptEnd =
  | { kind: 'completed' }
  | { kind: 'diverged' }
  | { kind: 'failed' }
  | { kind: 'retried' }
  | { kind: 'released' }
  | { kind: 'paused' }
  | { kind: 'superseded' };

export type AttemptEndKind = AttemptEnd['kind'];

/** Makes a switch over a union exhaustive: a new kind left unhandled is a type error here. */
export function unreachable(x: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(x)}`);
}
