// What the commands share about their command line: a usage error, option parsing, the API's address.

/** Bad usage: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/** The parsed options of a command line. */
export type Opts = Record<string, string | boolean | undefined>;

/** A positive number from an option, or a usage error naming it. */
export function positive(text: string, option: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${option} must be a positive number, not '${text}'`);
  return n;
}

/**
 * The API's address (--api, else $LRSWEEP_API_URL, else the local default), without a trailing
 * /v1: the typed client takes either, and what the CLI hands on (the Python exporter, Slurm jobs)
 * adds /v1 to its paths itself.
 */
export function apiBase(o: Opts, env: NodeJS.ProcessEnv): string {
  return ((o.api as string | undefined) ?? env.LRSWEEP_API_URL ?? 'http://127.0.0.1:3000').replace(/\/v1\/?$/, '');
}
