// `pnpm lrsweep …` / the `lrsweep` bin.
import { createInterface } from 'node:readline/promises';
import { run } from './commands';

const code = await run(process.argv.slice(2), {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(s.startsWith('\r') ? s : `${s}\n`),
  isTty: Boolean(process.stderr.isTTY),
  env: process.env,
  async ask(question) {
    // Read the answer from stdin (a terminal or a pipe); none when stdin ends first.
    const rl = createInterface({
      input: process.stdin,
      output: process.stderr,
      terminal: Boolean(process.stdin.isTTY),
    });
    const closed = new Promise<null>((r) => rl.once('close', () => r(null)));
    try {
      return await Promise.race([rl.question(question), closed]);
    } finally {
      rl.close();
    }
  },
});
process.exit(code);
