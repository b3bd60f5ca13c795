// `lrsweep export tensorboard <sweep-id> --out <dir>`: the Python package writes the export
// (`python -m lrsweep export`, packages/agent-python/lrsweep/export.py) with TensorBoard's own
// writer; this command runs it, so there is one exporter and one `lrsweep` command per shell.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import type { Io } from './cli-context';

/** What the export needs: the sweep, the directory, the API and token to read them with. */
export interface ExportRequest {
  target: string;
  sweepId: string;
  out: string;
  api: string;
  token: string | undefined;
}

/** The Python package beside this CLI in a checkout (none where the CLI was installed alone). */
const packageDir = resolve(import.meta.dirname, '../../../packages/agent-python');

/** Runs the export; its progress and summary lines pass through. Resolves with its exit code. */
export function runExport(r: ExportRequest, io: Io): Promise<number> {
  const python = io.env.LRSWEEP_PYTHON ?? 'python3';
  const pythonPath = existsSync(join(packageDir, 'lrsweep'))
    ? [packageDir, io.env.PYTHONPATH].filter(Boolean).join(delimiter)
    : io.env.PYTHONPATH;
  const args = ['-m', 'lrsweep', 'export', r.target, r.sweepId, '--out', r.out, '--url', r.api];
  return new Promise((done) => {
    const child = spawn(python, args, {
      env: {
        ...io.env,
        ...(pythonPath ? { PYTHONPATH: pythonPath } : {}),
        ...(r.token ? { LRSWEEP_TOKEN: r.token } : {}),
        PYTHONUNBUFFERED: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const relay = (write: (s: string) => void) => {
      let rest = '';
      return (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) write(l);
      };
    };
    child.stdout.on('data', relay(io.out));
    child.stderr.on('data', relay(io.err));
    child.on('error', (err) => {
      io.err(
        `lrsweep export runs Python (${python}: ${(err as NodeJS.ErrnoException).code ?? err.message}); set LRSWEEP_PYTHON to a Python 3 with lrsweep's package and tensorboard (pip install "lrsweep[tensorboard]")`,
      );
      done(1);
    });
    child.on('close', (code) => done(code ?? 1));
  });
}
