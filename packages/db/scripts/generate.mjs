// Generates the Prisma client of @lrsweep/db (src/generated/prisma) from prisma/schema.prisma.
// Runs on install (this package's postinstall, so a fresh clone's `pnpm install` is enough to
// start the apps) when the client is missing or was generated from another schema or Prisma
// version; `--force` (pnpm db:generate) always regenerates. Offline: `prisma generate` runs on
// WASM, but Prisma 7's CLI still looks for its native schema engine, which cannot be
// downloaded here; when none is configured PRISMA_SCHEMA_ENGINE_BINARY names an existing
// placeholder file (this one). Plain Node, no dependency but the prisma CLI.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const schema = resolve(pkg, '../../prisma/schema.prisma');
const out = join(pkg, 'src/generated/prisma');
const stamp = join(out, '.generated-from');
const require = createRequire(join(pkg, 'package.json'));

let prismaDir;
try {
  prismaDir = dirname(require.resolve('prisma/package.json'));
} catch {
  console.error('@lrsweep/db: the prisma CLI is not installed (a dependency of @lrsweep/db): run pnpm install');
  process.exit(1);
}
const version = JSON.parse(readFileSync(join(prismaDir, 'package.json'), 'utf8')).version;
const want = `${version} ${createHash('sha256').update(readFileSync(schema)).digest('hex')}`;
const current = existsSync(join(out, 'client.ts')) && existsSync(stamp) && readFileSync(stamp, 'utf8') === want;
if (current && !process.argv.includes('--force')) process.exit(0);

const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY || !existsSync(env.PRISMA_SCHEMA_ENGINE_BINARY)) {
  env.PRISMA_SCHEMA_ENGINE_BINARY = fileURLToPath(import.meta.url);
}
const r = spawnSync(
  process.execPath,
  [join(prismaDir, 'build/index.js'), 'generate', '--config', join(pkg, 'prisma.config.ts')],
  { cwd: pkg, env, stdio: 'inherit' },
);
if (r.status !== 0) {
  console.error(`@lrsweep/db: prisma generate failed (exit ${r.status ?? r.signal})`);
  process.exit(r.status ?? 1);
}
writeFileSync(stamp, want);
