// Where the tests find Python interpreters and the virtual environments `npm test` makes for them.
// Plain JavaScript: scripts/bootstrap.mjs (plain Node, before any dependency) makes the venvs, the
// testkit finds them.
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');

/** An interpreter `python3.X` on this machine: on PATH, or in pyenv's versions; null if none. */
export function findPython(minor) {
  const pyenv = join(process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'), 'versions');
  if (existsSync(pyenv)) {
    const v = readdirSync(pyenv)
      .filter((d) => d.startsWith(`3.${minor}.`))
      .sort()
      .at(-1);
    if (v && existsSync(join(pyenv, v, 'bin', `python3.${minor}`))) return join(pyenv, v, 'bin', `python3.${minor}`);
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, `python3.${minor}`);
    if (existsSync(p) && !dir.includes('shims')) return p;
  }
  return null;
}

/** The venv of Python 3.X with only the lrsweep wheel installed (the SDK's core: standard library). */
export const sdkVenv = (minor) => join(root, `.venv-sdk-3.${minor}`);

/** Its interpreter, when `npm test` could make it; null otherwise. */
export function sdkPython(minor) {
  const p = join(sdkVenv(minor), 'bin', 'python');
  return existsSync(p) ? p : null;
}

/** The minors the SDK's own suites run on: its floor and the version the extras are tested on. */
export const sdkMinors = [9, 11];
