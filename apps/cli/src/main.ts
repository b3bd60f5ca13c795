// `pnpm lrsweep …` / the `lrsweep` bin.
import { run } from './commands';

const code = await run(process.argv.slice(2), {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(s.startsWith('\r') ? s : `${s}\n`),
  isTty: Boolean(process.stderr.isTTY),
  env: process.env,
});
process.exit(code);
