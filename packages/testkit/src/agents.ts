import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');

export { findPython, sdkMinors, sdkPython } from './find-python.mjs';

export interface AgentProcess {
  proc: ChildProcess;
  lines: string[];
  waitFor(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
  signal(s: NodeJS.Signals): void;
}

/** Starts a trainer that runs under the lrsweep agent SDK (Python or Node), capturing its output. */
export function startAgentProcess(cmd: string, args: string[], env: Record<string, string>): AgentProcess {
  const proc = spawn(cmd, args, {
    cwd: root,
    // The interpreter's own environment provides lrsweep (npm test installs the wheel into the
    // tests' venvs): what users install is what runs, never the source tree on PYTHONPATH.
    env: { ...process.env, PYTHONUNBUFFERED: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      lines.push(line);
      for (const w of [...waiters]) if (w.pred(line)) waiters.splice(waiters.indexOf(w), 1), w.resolve(line);
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc,
    lines,
    exited,
    signal: (s) => proc.kill(s),
    waitFor(pred, timeoutMs = 60_000) {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((res, rej) => {
        const t = setTimeout(
          () => rej(new Error(`agent: timed out; last lines:\n${lines.slice(-15).join('\n')}`)),
          timeoutMs,
        );
        waiters.push({ pred, resolve: (l) => (clearTimeout(t), res(l)) });
      });
    },
  };
}
