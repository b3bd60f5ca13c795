// What every command shares: exit codes, the usage text, the terminal, and a command's context.
import type { createClient } from '@lrsweep/client';
import { type Opts, UsageError } from './options';

/** Exit codes scripts can rely on. */
/** Exit codes scripts can rely on. */
export const exitCodes = {
  ok: 0,
  /** The API answered an error, or could not be reached. */
  apiError: 1,
  /** Bad usage, or an invalid spec (each problem printed with its path). */
  invalid: 2,
  /** --follow: the sweep finished with failed trials. */
  trialsFailed: 3,
  /** --follow: the sweep was cancelled. */
  cancelled: 4,
  /** The sweep, trial or token does not exist (or is another project's). */
  notFound: 5,
} as const;

export const usage = `lrsweep — learning-rate schedule sweeps

usage:
  lrsweep submit <spec.json|spec.yaml> [--dry-run] [--follow] [--idempotency-key <key>] [--lr-from <range-test-id>]
  lrsweep range-test <sweep-id> [--json]
  lrsweep transfer <sweep-id> [--json] [--target-width <w>] [--target-steps <T>]
  lrsweep export tensorboard <sweep-id> --out <dir>   (runs python -m lrsweep export; $LRSWEEP_PYTHON)
  lrsweep slurm up --pool <pool> --template <agent.sbatch> --max-jobs <n> [--once] [--interval <s>] [--idle-timeout <s>]
  lrsweep slurm status --pool <pool>
  lrsweep slurm down --pool <pool>
  lrsweep list [--limit <n>]
  lrsweep status <sweep-id>
  lrsweep follow <sweep-id>
  lrsweep results <sweep-id> [--json | --csv] [--metric val_loss|val_acc|train_loss] [--aggregate final|best|auc] [--rank-by mean|ci]
  lrsweep cancel <sweep-id>
  lrsweep retry <sweep-id>
  lrsweep delete <sweep-id> [--yes]
  lrsweep extend <sweep-id> [--seeds <n>] [--lr <a,b,…>]
  lrsweep agents
  lrsweep workers
  lrsweep tokens create --project <id> --name <name> [--role admin|member|agent] [--pools a,b]
  lrsweep tokens list [--project <id>]
  lrsweep tokens revoke <token-id>

A sweep id may be shortened to any prefix that names one sweep (as \`lrsweep list\` shows them).

options:
  --api <url>      the API, with or without /v1 (default: $LRSWEEP_API_URL or http://127.0.0.1:3000)
  --token <token>  an API token (default: $LRSWEEP_TOKEN)
  --yes            delete without asking

exit codes: 0 ok · 1 API error · 2 usage or invalid spec · 3 sweep finished with failed trials ·
            4 sweep cancelled · 5 not found`;

export interface Io {
  out(s: string): void;
  err(s: string): void;
  isTty: boolean;
  env: NodeJS.ProcessEnv;
  /** Asks a question on the terminal; null when there is nobody to answer (no input). */
  ask?(question: string): Promise<string | null>;
}

/** What a user without a token needs to know, once, where the 401 would otherwise be all. */
export const tokenHint = `hint: set LRSWEEP_TOKEN (or pass --token) to an API token. The operator's token is the API's
      LRSWEEP_BOOTSTRAP_TOKEN (\`pnpm demo\` prints one); an admin mints others with
      \`lrsweep tokens create --project <project> --name <you>\`.`;

export type Client = ReturnType<typeof createClient>;

/** One command line, parsed: what a command reads. */
export interface Ctx {
  command: string;
  args: string[];
  o: Opts;
  token: string | undefined;
  client: Client;
  io: Io;
}

/** The command's first argument, or a usage error saying what it needs. */
export function need(c: Ctx, what: string): string {
  if (!c.args[0]) throw new UsageError(`${c.command} needs ${what}`);
  return c.args[0];
}
