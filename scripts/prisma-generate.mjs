// Runs `prisma generate` for packages/db. Prisma 7's CLI looks for its native schema engine even
// though generation runs on WASM; offline the engine cannot be downloaded, so when none is
// configured we point PRISMA_SCHEMA_ENGINE_BINARY at an existing placeholder file.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY || !existsSync(env.PRISMA_SCHEMA_ENGINE_BINARY)) {
  env.PRISMA_SCHEMA_ENGINE_BINARY = fileURLToPath(import.meta.url);
}
const require = createRequire(join(root, 'packages/db/package.json'));
const cli = join(dirname(require.resolve('prisma/package.json')), 'build/index.js');
const r = spawnSync(process.execPath, [cli, 'generate', '--config', join(root, 'packages/db/prisma.config.ts')], {
  cwd: root,
  env,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
