// `pnpm demo` as root in a directory the embedded Postgres's user cannot read (/root, a mktemp -d):
// its data directory moves to a readable place; programs it cannot reach get one sentence.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { placeEmbeddedPostgres, userCan } from '../scripts/lib/embedded-postgres-place';

const asRoot = process.getuid?.() === 0;
// Any program every user may run stands in for Postgres's.
const program = '/usr/bin/env';

describe.skipIf(!asRoot)('where the demo’s embedded Postgres lives, run as root', () => {
  const made: string[] = [];
  const locked = () => {
    const d = mkdtempSync(join(tmpdir(), 'lrsweep-locked-'));
    made.push(d);
    chmodSync(d, 0o700);
    return d;
  };
  afterAll(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });

  it('moves the data directory out of a directory the user cannot read', () => {
    const preferred = join(locked(), 'clone', '.demo', 'postgres');
    const placed = placeEmbeddedPostgres({ asRoot: true, preferred, binaries: [program] });
    expect(placed).toMatchObject({ moved: true });
    if (!('dataDir' in placed)) throw new Error('no data directory');
    made.push(placed.dataDir);
    expect(placed.dataDir.startsWith(tmpdir())).toBe(true);
    expect(userCan('postgres', 'w', placed.dataDir)).toBe(true);
    expect(statSync(placed.dataDir).uid).not.toBe(0);
  });

  it('keeps the data directory where the user can write', () => {
    const open = mkdtempSync(join(tmpdir(), 'lrsweep-open-'));
    made.push(open);
    chmodSync(open, 0o755);
    const preferred = join(open, 'postgres');
    expect(placeEmbeddedPostgres({ asRoot: true, preferred, binaries: [program] })).toEqual({
      dataDir: preferred,
      moved: false,
    });
  });

  it('says in one sentence what to do when the user cannot reach Postgres’s programs', () => {
    const bin = join(locked(), 'native', 'bin');
    mkdirSync(bin, { recursive: true });
    copyFileSync(program, join(bin, 'postgres'));
    const placed = placeEmbeddedPostgres({
      asRoot: true,
      preferred: join(bin, 'data'),
      binaries: [join(bin, 'postgres')],
    });
    expect('problem' in placed && placed.problem).toBe(
      `✗ The embedded Postgres runs as the unprivileged user 'postgres' (Postgres refuses root), which cannot reach its programs in ${dirname(bin)}: put lrsweep where other users can read (e.g. /opt or /srv, not /root or a mktemp -d), run it as a non-root user, or start a Postgres and set DATABASE_URL.`,
    );
  });
});
