// `pnpm setup:tensorflow [--cuda]`: builds @tensorflow/tfjs-node's native binding from the TF C
// API inside the tensorflow-cpu wheel (with --cuda: the CUDA 12 `tensorflow` wheel), because its
// own install downloads libtensorflow 2.9 and a prebuilt binding from outside the registries we
// reach (and 2.9 is CUDA 11.2). Idempotent: a binding that already loads is left alone. Nothing
// of it is committed: the wheel is cached outside the clone (~/.cache/lrsweep/tensorflow, or
// $LRSWEEP_CACHE_DIR/tensorflow), the libraries go to the installed
// package's deps/ (about 850 MB).
//
//   1. pip download --no-deps --only-binary=:all: tensorflow-cpu==2.21.0   (or tensorflow==2.21.0)
//   2. unpack libtensorflow_cc.so.2, libtensorflow_framework.so.2 and the C headers into deps/,
//      with the names binding.gyp links (libtensorflow.so → libtensorflow_cc.so.2, which exports
//      the TF/TFE C API) and the one its install checks (libtensorflow.so.2.9.1)
//   3. node-gyp rebuild against Node's own headers (npm_config_nodedir), into lib/napi-v8
//   4. load it in a fresh process: backend "tensorflow", TF's version
//   5. compile lrsweep's fused kernels (packages/trainer/native/fused_ops.c: layer norm and GELU,
//      through TF's C API for custom ops) into deps/lib/lrsweep_fused_ops.node, and check that
//      they load; linked -z nodelete (a replaced training thread must not unload them); rebuilt
//      whenever the source is newer or the flags changed
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cuda = process.argv.includes('--cuda');
const force = process.argv.includes('--force');
const tfVersion = process.env.LRSWEEP_TF_VERSION ?? '2.21.0';
const wheelName = cuda ? 'tensorflow' : 'tensorflow-cpu';
const pkgName = cuda ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
const say = (s) => process.stdout.write(`setup:tensorflow: ${s}\n`);
const fail = (s) => {
  process.stderr.write(`setup:tensorflow: ✗ ${s}\n`);
  process.exit(1);
};

// The installed package, as the trainer resolves it (pnpm layout: packages/trainer/node_modules).
let pkgDir;
try {
  pkgDir = dirname(createRequire(join(root, 'packages/trainer/package.json')).resolve(`${pkgName}/package.json`));
} catch {
  fail(
    `${pkgName} is not installed (it is an optional dependency of @lrsweep/trainer${cuda ? '; add it with pnpm --filter @lrsweep/trainer add @tensorflow/tfjs-node-gpu@4.22.0' : ': run pnpm install'})`,
  );
}
const bindingDir = join(pkgDir, 'lib', 'napi-v8');

/**
 * Loads the package in a fresh process; the backend and TF version, or the error. With `ops`,
 * also loads that fused-kernel library once the backend runs, and reports the ops it registered.
 */
function probe(ops) {
  const extra = ops ? `, ops: require(${JSON.stringify(ops)}).ops` : '';
  const code = `const tf = require(${JSON.stringify(pkgName)}); tf.setBackend('tensorflow').then(() => { process.stdout.write(JSON.stringify({ backend: tf.getBackend(), tf: tf.version['tfjs-node'] ?? null, lib: require(${JSON.stringify(join(pkgDir, 'package.json'))}).version${extra} })); });`;
  const r = spawnSync(process.execPath, ['-e', code], {
    cwd: join(root, 'packages/trainer'),
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  if (r.status !== 0) return { ok: false, error: (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ') };
  try {
    return { ok: true, ...JSON.parse(r.stdout.trim().split('\n').at(-1)) };
  } catch {
    return { ok: false, error: r.stdout };
  }
}

const nodedir = process.env.npm_config_nodedir ?? resolve(dirname(process.execPath), '..');
const deps = join(pkgDir, 'deps');

/**
 * Step 5: the fused kernels, compiled against the wheel's C headers and Node's (a Node-API
 * module whose init registers the ops), unless they are built from this source already.
 * `-fno-trapping-math` lets GCC keep the clamps branch-free; both an AVX2 and a baseline x86-64
 * copy are built (target_clones), chosen when the library loads.
 */
function buildFusedOps() {
  // The kernels are CPU ones: on a GPU they would cost a copy of every activation to the host and back.
  if (cuda) return say('fused kernels: not built for the GPU binding (its backend runs its own GPU kernels)');
  const src = join(root, 'packages/trainer/native/fused_ops.c');
  const out = join(deps, 'lib', 'lrsweep_fused_ops.node');
  // -z nodelete: the library stays loaded once a thread has loaded it. A worker replaces a failed
  // trial's thread, and Node then unloads that thread's add-ons; loaded again, this library would
  // register its ops a second time into TensorFlow's process-wide op registry (which outlives
  // the thread), and TensorFlow aborts the process on the duplicate (op.cc: ALREADY_EXISTS).
  const cc = process.env.CC ?? 'cc';
  const args = [
    '-O3',
    '-fno-trapping-math',
    '-fno-math-errno',
    '-std=gnu11',
    '-Wall',
    '-Wno-psabi',
    '-fPIC',
    '-shared',
    `-I${join(nodedir, 'include/node')}`,
    `-I${join(deps, 'include')}`,
    src,
    `-L${join(deps, 'lib')}`,
    '-l:libtensorflow_framework.so.2',
    '-Wl,-rpath,$ORIGIN',
    '-Wl,-z,nodelete',
    '-o',
    out,
  ];
  // Rebuilt when the source is newer or the build's flags changed (a library built by an older setup).
  const stamp = `${out}.flags`;
  const flags = [cc, ...args].join(' ');
  const current =
    existsSync(out) &&
    statSync(out).mtimeMs >= statSync(src).mtimeMs &&
    existsSync(stamp) &&
    readFileSync(stamp, 'utf8') === flags;
  if (!force && current) return say(`fused kernels up to date: ${out}`);
  const t0 = Date.now();
  const r = spawnSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) fail(`${cc} could not compile the fused kernels (output above)`);
  writeFileSync(stamp, flags);
  const p = probe(out);
  if (!p.ok || !p.ops) fail(`the fused kernels were built but do not load: ${p.error ?? 'no ops registered'}`);
  say(`✓ fused kernels ${p.ops.join(', ')} built in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${out}`);
}

if (!force && existsSync(join(bindingDir, 'tfjs_binding.node'))) {
  const p = probe();
  // An older setup unpacked only the headers the binding needs, not all the fused kernels include
  // (the GPU build has no fused kernels).
  const kernelHeaders =
    cuda ||
    existsSync(join(deps, 'include/tensorflow/core/common_runtime/next_pluggable_device/c/tf_rendezvous_c_api.h'));
  if (p.ok && p.backend === 'tensorflow' && kernelHeaders) {
    say(`already built: ${pkgName} ${p.lib} loads (backend ${p.backend}) from ${bindingDir}; --force rebuilds`);
    buildFusedOps();
    process.exit(0);
  }
  if (p.ok && p.backend === 'tensorflow')
    say('the fused kernels need headers this build did not unpack; setting up again');
  else say(`a binding exists but does not load (${p.error}); rebuilding`);
}

// 1. The wheel (pip serves it by name; cached).
// Outside the clone, so a fresh clone (CI's) reuses it: $LRSWEEP_CACHE_DIR, else ~/.cache/lrsweep.
const cache = join(
  process.env.LRSWEEP_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lrsweep'),
  'tensorflow',
);
mkdirSync(cache, { recursive: true });
const findWheel = () =>
  readdirSync(cache).find((f) => f.startsWith(`${wheelName.replace('-', '_')}-${tfVersion}-`) && f.endsWith('.whl'));
if (!findWheel()) {
  const python = ['python3.11', 'python3', 'python'].find((p) => spawnSync(p, ['-m', 'pip', '--version']).status === 0);
  if (!python) fail('no python with pip to fetch the wheel with');
  say(
    `fetching ${wheelName}==${tfVersion} with pip (about 270 MB${cuda ? ', plus nothing else: its CUDA 12 runtime comes from the nvidia-* wheels or the image' : ''})`,
  );
  const r = spawnSync(
    python,
    [
      '-m',
      'pip',
      'download',
      '--retries',
      '1',
      '--timeout',
      '15',
      '--no-deps',
      '--only-binary=:all:',
      '--python-version',
      '3.11',
      '--platform',
      'manylinux_2_27_x86_64',
      `${wheelName}==${tfVersion}`,
      '-d',
      cache,
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  if (r.status !== 0 || !findWheel())
    fail(`pip could not fetch ${wheelName}==${tfVersion}: the native backend is not built (wasm stays in use)`);
}
const wheel = join(cache, findWheel());
say(`wheel ${wheel}`);

// 2. Libraries and headers into deps/.
rmSync(deps, { recursive: true, force: true });
mkdirSync(join(deps, 'lib'), { recursive: true });
mkdirSync(join(deps, 'include'), { recursive: true });
const extract = `
import sys, zipfile, os, shutil
wheel, deps = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(wheel)
libs = {'tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'}
heads = ('tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/core/common_runtime/next_pluggable_device/c/', 'tensorflow/include/tsl/', 'tensorflow/include/xla/tsl/', 'tensorflow/include/tensorflow/tsl/', 'tensorflow/include/tensorflow/core/platform/ctstring')
n = 0
for m in z.infolist():
    if m.is_dir(): continue
    if m.filename in libs: out = os.path.join(deps, 'lib', os.path.basename(m.filename))
    elif m.filename.startswith(heads): out = os.path.join(deps, 'include', m.filename[len('tensorflow/include/'):])
    else: continue
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with z.open(m) as src, open(out, 'wb') as dst: shutil.copyfileobj(src, dst)
    n += 1
print(n)
`;
const extracted = execFileSync('python3', ['-c', extract, wheel, deps], { encoding: 'utf8' }).trim();
for (const [link, target] of [
  ['libtensorflow.so', 'libtensorflow_cc.so.2'],
  ['libtensorflow.so.2', 'libtensorflow_cc.so.2'],
  // What tfjs-node's own install checks for before it would download.
  ['libtensorflow.so.2.9.1', 'libtensorflow_cc.so.2'],
  ['libtensorflow_framework.so', 'libtensorflow_framework.so.2'],
]) {
  symlinkSync(target, join(deps, 'lib', link));
}
say(`unpacked ${extracted} files into ${deps}`);

// 3. The binding, against Node's own headers (no download of them either).
const nodeGyp = [
  join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  join(dirname(process.execPath), 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
].find(existsSync);
if (!nodeGyp) fail('node-gyp not found (it ships with npm); install it: npm i -g node-gyp');
if (!existsSync(join(nodedir, 'include/node/node_api.h')))
  fail(`Node's headers are not under ${nodedir}/include/node: set npm_config_nodedir`);
say(`building the binding with node-gyp (nodedir ${nodedir})`);
const t0 = Date.now();
const build = spawnSync(
  process.execPath,
  [
    nodeGyp,
    'rebuild',
    `--nodedir=${nodedir}`,
    '--module_name=tfjs_binding',
    `--module_path=${bindingDir}`,
    '--napi_build_version=8',
    '-j',
    'max',
  ],
  {
    cwd: pkgDir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, npm_config_nodedir: nodedir },
  },
);
if (build.status !== 0) fail('node-gyp failed (output above)');
say(`built ${join(bindingDir, 'tfjs_binding.node')} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

// 4. It loads.
const p = probe();
if (!p.ok || p.backend !== 'tensorflow') fail(`the binding was built but does not load: ${p.error ?? p.backend}`);
say(
  `✓ ${pkgName} ${p.lib} loads with backend ${p.backend}, on TensorFlow ${tfVersion}'s C API (${wheelName} wheel). LRSWEEP_BACKEND=auto now prefers it.`,
);

// 5. The fused kernels.
buildFusedOps();
