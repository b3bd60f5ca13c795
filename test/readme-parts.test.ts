// The README's "Running the parts", literally: its fenced block, run on a fresh clone after
// `pnpm install --frozen-lockfile` and nothing else, serves /readyz and trains a trial. README
// and reality cannot drift apart.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  apiClient,
  databaseUrl,
  deletePrefix,
  freePort,
  query,
  redisUrl,
  tinySpec,
  uniquePrefix,
} from '@lrsweep/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

/** The fenced sh block right under the README's "## Running the parts". */
function partsBlock(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.split('\n## Running the parts\n')[1];
  if (!section) throw new Error('README.md has no "## Running the parts" section');
  const block = /```sh\n([\s\S]*?)```/.exec(section.split('\n## ')[0]!);
  if (!block) throw new Error('"Running the parts" has no ```sh block');
  return block[1]!;
}

describe('the README\'s "Running the parts"', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lrsweep-readme-'));
  const dbName = `lrsweep_readme_${Date.now().toString(36)}`;
  const prefix = uniquePrefix();
  let shell: ReturnType<typeof spawn> | null = null;
  const out: string[] = [];

  afterAll(async () => {
    if (shell?.pid) {
      try {
        process.kill(-shell.pid, 'SIGTERM');
      } catch {}
      await new Promise((r) => setTimeout(r, 2000));
      try {
        process.kill(-shell.pid, 'SIGKILL');
      } catch {}
    }
    await query(databaseUrl('postgres'), `DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => {});
    await deletePrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs on a fresh clone after pnpm install alone: /readyz answers 200 and a trial trains', async () => {
    const clone = join(dir, 'lrsweep');
    expect(spawnSync('git', ['clone', '--quiet', root, clone], { encoding: 'utf8' }).status).toBe(0);
    const install = spawnSync('pnpm', ['install', '--frozen-lockfile'], {
      cwd: clone,
      encoding: 'utf8',
      env: { ...process.env, CI: 'true' },
    });
    expect(install.status, install.stderr + install.stdout.slice(-2000)).toBe(0);

    const port = await freePort();
    const env = {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: databaseUrl(dbName),
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      LRSWEEP_BACKEND: 'wasm',
    };
    delete (env as Record<string, string | undefined>).LRSWEEP_BOOTSTRAP_TOKEN;
    // The block as a user pastes it, then the token it made (for this test to call the API), kept alive.
    const script = `set -e\n${partsBlock()}\necho "TOKEN=$LRSWEEP_BOOTSTRAP_TOKEN"\nwait\n`;
    shell = spawn('bash', ['-c', script], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    shell.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
    shell.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
    const exited = new Promise<number | null>((r) => shell!.on('exit', (code) => r(code)));

    const deadline = Date.now() + 120_000;
    let ready = 0;
    while (Date.now() < deadline && ready !== 200) {
      if ((await Promise.race([exited, new Promise((r) => setTimeout(r, 500, 'running'))])) !== 'running')
        throw new Error(`the block exited:\n${out.join('').slice(-3000)}`);
      ready = await fetch(`http://127.0.0.1:${port}/readyz`)
        .then((r) => r.status)
        .catch(() => 0);
    }
    expect(ready, out.join('').slice(-3000)).toBe(200);
    const token = /TOKEN=(\S+)/.exec(out.join(''))?.[1];
    expect(token).toMatch(/^[0-9a-f]{48}$/);

    const api = apiClient(`http://127.0.0.1:${port}`, token);
    const created = await api.post(
      '/v1/sweeps',
      tinySpec({ name: 'readme-parts', model: { kind: 'mlp', hidden: [8] }, grid: { baseLr: [0.05] } }),
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const sweep = await api.waitForSweep(created.body.id, 120_000);
    expect(sweep, out.join('').slice(-3000)).toMatchObject({ status: 'completed', counts: { completed: 1 } });
  }, 300_000);
});
