// Makes a fresh clone runnable: pnpm (the pinned version), the dependencies from the lockfile
// (installing them generates the Prisma client), and a client current with the schema. Plain Node, no dependencies; quick when all is in place.
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPython, sdkMinors, sdkVenv } from '../packages/testkit/src/find-python.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager.split('@')[1];
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
  });
  if (r.status !== 0) {
    console.error(`✗ ${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal}).`);
    process.exit(r.status ?? 1);
  }
};
const version = (cmd) => {
  try {
    return execSync(`${cmd} --version`, { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
};

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  console.error(`✗ lrsweep needs Node.js 20 or newer (this is ${process.version}).`);
  process.exit(1);
}

let pnpm = 'pnpm';
if (version('pnpm') !== pinned) {
  console.log(`• installing pnpm ${pinned} (npm i -g pnpm@${pinned})`);
  const r = spawnSync('npm', ['install', '-g', `pnpm@${pinned}`], { stdio: 'inherit' });
  if (r.status !== 0 || version('pnpm') !== pinned) pnpm = null;
}
const pnpmArgs = (args) => (pnpm ? [pnpm, args] : ['npx', ['--yes', `pnpm@${pinned}`, ...args]]);

const stamp = join(root, 'node_modules/.modules.yaml');
const lock = join(root, 'pnpm-lock.yaml');
if (!existsSync(stamp) || statSync(stamp).mtimeMs < statSync(lock).mtimeMs) {
  console.log('• installing dependencies from pnpm-lock.yaml');
  run(...pnpmArgs(['install', '--frozen-lockfile']));
}

// Installing generates the Prisma client (@lrsweep/db's postinstall); a schema pulled since the
// last install is caught here by the same script (it does nothing while the client is current).
run(process.execPath, [join(root, 'packages/db/scripts/generate.mjs')]);

// The dashboard's browser test drives Debian's Chromium; install it where we can (root on Debian).
if (!existsSync('/usr/bin/chromium') && !process.env.CHROMIUM_PATH) {
  const root = process.getuid?.() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (root && apt) {
    console.log("• installing Debian's chromium (for the dashboard's browser test)");
    spawnSync(
      'sh',
      ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null'],
      { stdio: 'inherit' },
    );
  } else {
    console.log(
      '• no /usr/bin/chromium: the dashboard browser test will fail until it is installed (apt-get install chromium, or set CHROMIUM_PATH; LRSWEEP_SKIP=chromium skips it)',
    );
  }
}

// For the tests only (`--tests`): the Python tests' virtual environment (pip serves these here;
// about 40 s the first time): PyTorch (CPU) and NumPy for the PyTorch example and the NumPy data
// tests, pandas, tqdm and matplotlib for the notebook client's test (lrsweep[notebook]).
if (process.argv.includes('--tests')) {
  const venv = join(root, '.venv-torch');
  const py = join(venv, 'bin/python');
  const packages = [
    'torch',
    'numpy',
    'pandas',
    'tqdm',
    'matplotlib',
    'tensorboard',
    'transformers',
    'accelerate',
    'lightning',
    'keras',
    'pytest',
  ];
  const imports =
    'import torch, numpy, pandas, tqdm, matplotlib, tensorboard, transformers, accelerate, lightning, keras, pytest';
  // (Keras imports its backend at import: the tests run it on PyTorch.)
  const ready = () =>
    existsSync(py) &&
    spawnSync(py, ['-c', imports], { stdio: 'ignore', env: { ...process.env, KERAS_BACKEND: 'torch' } }).status === 0;
  if (!process.env.LRSWEEP_TORCH_PYTHON && !ready()) {
    console.log(`• making .venv-torch with ${packages.join(', ')} for the Python tests`);
    const made = existsSync(py) || spawnSync('python3.11', ['-m', 'venv', venv], { stdio: 'inherit' }).status === 0;
    const installed =
      made &&
      spawnSync(join(venv, 'bin/pip'), ['install', '-q', '--retries', '0', '--timeout', '10', ...packages], {
        stdio: 'inherit',
      }).status === 0;
    if (!installed || !ready()) {
      console.log(
        '• the Python test packages could not be installed: the tests of the PyTorch, Hugging Face, Lightning and Keras examples, the notebook client and the export will fail and say so (LRSWEEP_SKIP=torch skips them)',
      );
    }
  }
  installWheel(process.env.LRSWEEP_TORCH_PYTHON ?? (existsSync(py) ? py : undefined));
}

/**
 * The Python tests run lrsweep as users get it: the wheel, built from packages/agent-python each
 * run and installed with --no-deps over the last one (a second or two), into the tests' venv and
 * into one venv per SDK floor (.venv-sdk-3.9, .venv-sdk-3.11: the wheel alone, the core being
 * standard library), made once. Never the source tree on PYTHONPATH.
 */
function installWheel(torchPython) {
  const builder = torchPython ?? findPython(11) ?? 'python3';
  const dist = join(root, '.cache', 'python-wheel');
  rmSync(dist, { recursive: true, force: true });
  const built = spawnSync(builder, ['-m', 'pip', 'wheel', '-q', '--no-deps', '-w', dist, 'packages/agent-python'], {
    cwd: root,
    stdio: 'inherit',
  });
  const wheel = built.status === 0 ? readdirSync(dist).find((f) => f.endsWith('.whl')) : undefined;
  if (!wheel) {
    console.log('• the lrsweep wheel did not build: the Python agent tests will fail and say so');
    return;
  }
  const install = (python) =>
    spawnSync(python, ['-m', 'pip', 'install', '-q', '--no-deps', '--force-reinstall', join(dist, wheel)], {
      stdio: 'inherit',
    }).status === 0;
  const targets = torchPython && existsSync(torchPython) ? [torchPython] : [];
  for (const minor of sdkMinors) {
    const base = findPython(minor);
    const venvPython = join(sdkVenv(minor), 'bin', 'python');
    if (!base) continue; // the suites say what to install
    if (!existsSync(venvPython) && spawnSync(base, ['-m', 'venv', sdkVenv(minor)], { stdio: 'inherit' }).status !== 0) {
      console.log(`• could not make ${sdkVenv(minor)} with ${base}`);
      continue;
    }
    targets.push(venvPython);
  }
  const failed = targets.filter((python) => !install(python));
  console.log(
    failed.length
      ? `• the lrsweep wheel did not install into ${failed.join(', ')}`
      : `• ${wheel} installed into ${targets.map((t) => t.replace(`${root}/`, '').replace('/bin/python', '')).join(', ')}`,
  );
}

// For the tests only: the native TensorFlow backend, built from the tensorflow-cpu wheel (pip
// serves it here; ~30 s the first time, nothing after). Where it cannot be built the backend
// parity suite says it did not run, and why.
if (process.argv.includes('--tests') && !process.env.LRSWEEP_NO_NATIVE) {
  const r = spawnSync(process.execPath, [join(root, 'scripts/setup-tensorflow.mjs')], { stdio: 'inherit' });
  if (r.status !== 0)
    console.log(
      '• the native TensorFlow backend could not be built (above): its parity tests will say they did not run',
    );
}
