// The offline bundle end to end (#34): `pnpm bundle --with-node` builds the tarball that carries
// Node, Postgres, Redis, the code and the Python wheel; scripts/gpu-fleet-proof.sh unpacks it in a
// fresh directory and runs the fleet proof (CPU mode here) with a PATH that holds only the system
// basics and a Python with PyTorch: no node, no postgres, no redis-server. The proof kills an agent
// with SIGKILL mid-trial and checks exactly-once from the database; this test checks what it
// printed and that it passed.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { requirement } from '@lrsweep/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const python = process.env.LRSWEEP_TORCH_PYTHON ?? join(root, '.venv-torch/bin/python');
const torch = requirement('torch', existsSync(python), `the Python tests' venv at ${python} (npm test makes it)`);
const basics = [
  'bash',
  'sh',
  'tar',
  'xz',
  'rm',
  'mkdir',
  'basename',
  'dirname',
  'cat',
  'ls',
  'id',
  'env',
  'tail',
  'sleep',
  'uname',
  'test',
  'locale',
  'runuser',
  'useradd',
  'groupadd',
];

/** Runs a command to its end, its output collected (spawnSync would block the test's timers). */
function run(cmd: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<{ code: number | null; out: string }>((done) => {
    const p = spawn(cmd, args, { ...o, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (out += d));
    p.once('exit', (code) => done({ code, out }));
  });
}

describe.skipIf(torch.skip)('the offline bundle and the fleet proof', () => {
  // Readable by everyone: as root the embedded Postgres runs as the user 'postgres'.
  const dir = mkdtempSync(join(tmpdir(), 'lrsweep-bundle-'));
  chmodSync(dir, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds, unpacks in a fresh directory and passes the exactly-once proof with only Node (its own) and the basics', async () => {
    torch.assert();
    // One thread at xz's preset 2 (about 30 s, ~54 MiB): the other tests run beside this one. The
    // README's size is the default's (preset 6, every core).
    const built = await run(
      process.execPath,
      ['--import', 'tsx', 'scripts/bundle.ts', '--with-node', '--out', join(dir, 'out')],
      { cwd: root, env: { ...process.env, LRSWEEP_XZ_OPT: '-2 -T1' } },
    );
    expect(built.code, built.out).toBe(0);
    const file = readdirSync(join(dir, 'out')).find((f) => f.endsWith('-node.tar.xz'));
    expect(file, built.out).toBeDefined();
    const size = statSync(join(dir, 'out', file!)).size;
    expect(built.out).toContain(`${(size / 2 ** 20).toFixed(1)} MiB`);
    // Small enough to carry to a GPU machine with the repository.
    expect(size).toBeLessThan(64 * 2 ** 20);

    // A machine that has the system basics and a Python with PyTorch, and nothing of lrsweep's.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    for (const b of basics) {
      const at = spawnSync('sh', ['-c', `command -v ${b}`], { encoding: 'utf8' }).stdout.trim();
      if (at.startsWith('/')) symlinkSync(at, join(bin, b));
      else if (b === 'test') symlinkSync('/usr/bin/test', join(bin, b)); // a builtin in sh
    }
    writeFileSync(join(bin, 'python3'), `#!/bin/sh\nexec ${python} "$@"\n`, { mode: 0o755 });
    for (const absent of ['node', 'postgres', 'redis-server', 'psql'])
      expect(spawnSync('sh', ['-c', `command -v ${absent}`], { env: { PATH: bin } }).status, absent).not.toBe(0);
    const proofDir = join(dir, 'fresh');
    const proof = await run(
      join(bin, 'bash'),
      [join(root, 'scripts/gpu-fleet-proof.sh'), join(dir, 'out', file!), '--device', 'cpu'],
      { cwd: dir, env: { PATH: bin, HOME: dir, LRSWEEP_PROOF_DIR: proofDir } },
    );
    expect(proof.code, proof.out).toBe(0);
    expect(proof.out).toMatch(/^device +cpu/m);
    expect(proof.out).toMatch(/^trials +8\/8 completed, (\d+) attempts, [1-9]\d* resumed from a checkpoint/m);
    expect(proof.out).toMatch(/^updates +4800 rows for 8 × 600 updates/m);
    expect(proof.out).toMatch(/^throughput +[\d.]+ updates\/s/m);
    const killed =
      /one killed with SIGKILL mid-trial; its trial resumed at update (\d+), after its checkpoint at (\d+)/.exec(
        proof.out,
      );
    expect(killed, proof.out).not.toBeNull();
    // From the checkpoint recorded when it was killed, or a later one it saved before the signal
    // landed (checkpoint_step counts the updates a checkpoint holds: its resume step).
    expect(Number(killed![1])).toBeGreaterThanOrEqual(Number(killed![2]));
    expect(proof.out).toContain('exactly-once PASSED');
    // It stopped what it started: nothing of the unpacked bundle is still running.
    const left = spawnSync('pgrep', ['-f', proofDir], { encoding: 'utf8' }).stdout.trim();
    expect(left).toBe('');
  }, 600_000);
});
