import { parseArgs } from 'node:util';

/** A command line's options, positionals first: the command and its arguments (node:util parseArgs, strict). */
export function parseCommandLine(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      api: { type: 'string' },
      token: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      follow: { type: 'boolean', default: false },
      'idempotency-key': { type: 'string' },
      json: { type: 'boolean', default: false },
      csv: { type: 'boolean', default: false },
      metric: { type: 'string' },
      aggregate: { type: 'string' },
      'rank-by': { type: 'string' },
      project: { type: 'string' },
      name: { type: 'string' },
      admin: { type: 'boolean', default: false },
      role: { type: 'string' },
      pools: { type: 'string' },
      limit: { type: 'string' },
      seeds: { type: 'string' },
      lr: { type: 'string' },
      'lr-from': { type: 'string' },
      'target-width': { type: 'string' },
      'target-steps': { type: 'string' },
      out: { type: 'string' },
      pool: { type: 'string' },
      template: { type: 'string' },
      'max-jobs': { type: 'string' },
      once: { type: 'boolean', default: false },
      interval: { type: 'string' },
      'idle-timeout': { type: 'string' },
      holder: { type: 'string' },
      yes: { type: 'boolean', short: 'y', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...args] = positionals;
  return { o: values, command, args };
}
