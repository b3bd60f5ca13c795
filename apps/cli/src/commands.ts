import { ApiRequestError, createClient } from '@lrsweep/client';
import { type Ctx, exitCodes, type Io, need, tokenHint, usage } from './cli-context';
import { parseCommandLine } from './command-line';
import { agentsCommand, tokensCommand, workersCommand } from './fleet-commands';
import { apiBase, UsageError } from './options';
import { slurmCommand } from './slurm';
import { submit } from './submit-command';
import {
  cancelCommand,
  deleteCommand,
  exportCommand,
  extendCommand,
  followCommand,
  listCommand,
  rangeTestCommand,
  resultsCommand,
  retryCommand,
  statusCommand,
  transferCommand,
} from './sweep-commands';

export { exitCodes, type Io, tokenHint, usage } from './cli-context';

/** Every command, by name: each a function of the parsed command line. */
const commands: Record<string, (c: Ctx) => Promise<number>> = {
  submit: (c) => submit(need(c, 'a spec file'), c.o, c.client, c.io),
  list: listCommand,
  status: statusCommand,
  follow: followCommand,
  'range-test': rangeTestCommand,
  transfer: transferCommand,
  export: exportCommand,
  slurm: (c) => slurmCommand(c.args[0], c.o, c.client, c.token, c.io),
  results: resultsCommand,
  cancel: cancelCommand,
  retry: retryCommand,
  extend: extendCommand,
  delete: deleteCommand,
  tokens: tokensCommand,
  workers: workersCommand,
  agents: agentsCommand,
};

/** Runs one command line; resolves to the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  let line: ReturnType<typeof parseCommandLine>;
  try {
    line = parseCommandLine(argv);
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${usage}`);
    return exitCodes.invalid;
  }
  const { o, command, args } = line;
  if (o.help || !command) {
    (o.help ? io.out : io.err)(usage);
    return o.help ? exitCodes.ok : exitCodes.invalid;
  }
  const token = (o.token as string | undefined) ?? io.env.LRSWEEP_TOKEN;
  const client = createClient({ baseUrl: apiBase(o, io.env), token });
  try {
    const handler = Object.hasOwn(commands, command) ? commands[command] : undefined;
    if (!handler) throw new UsageError(`unknown command '${command}'`);
    return await handler({ command, args, o, token, client, io });
  } catch (err) {
    return reportError(err, io, token);
  }
}

/** What a failed command prints, and its exit code: usage, the API's answer (with each issue), or unreachable. */
function reportError(err: unknown, io: Io, token: string | undefined): number {
  if (err instanceof UsageError) {
    io.err(`${err.message}\n\n${usage}`);
    return exitCodes.invalid;
  }
  if (err instanceof ApiRequestError) {
    io.err(`error: ${err.message}`);
    for (const i of err.issues) io.err(`  ${i.path || '(root)'}: ${i.message}`);
    if (err.status === 401 && !token) io.err(tokenHint);
    return err.status === 404 ? exitCodes.notFound : err.status === 400 ? exitCodes.invalid : exitCodes.apiError;
  }
  const e = err as { cause?: { code?: string }; message: string };
  io.err(
    e.cause?.code === 'ECONNREFUSED'
      ? `error: the API is not reachable (${e.message}); start it or pass --api`
      : `error: ${e.message}`,
  );
  return exitCodes.apiError;
}
