// The Python package (packages/agent-python) as a distribution: it builds as a wheel, installs
// into a fresh virtual environment with no PYTHONPATH and nothing else (the core is standard
// library only), carries its version from one place and its py.typed marker, and type-checks
// with pyright (the integrations against the frameworks in the Python tests' venv).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { requirement } from '@lrsweep/testkit';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const python = process.env.LRSWEEP_TORCH_PYTHON ?? join(root, '.venv-torch/bin/python');
const needed = requirement('torch', existsSync(python), `the Python tests' venv at ${python} (npm test makes it)`);
const version = /__version__ = "([^"]+)"/.exec(
  readFileSync(join(root, 'packages/agent-python/lrsweep/__init__.py'), 'utf8'),
)![1]!;

describe.skipIf(needed.skip)('the lrsweep Python package', () => {
  it('builds a wheel that installs and imports in a fresh venv, with its version and py.typed', () => {
    needed.assert();
    const dir = mkdtempSync(join(tmpdir(), 'lrsweep-wheel-'));
    const build = spawnSync(
      python,
      ['-m', 'pip', 'wheel', '-q', '--no-deps', '-w', join(dir, 'dist'), join(root, 'packages/agent-python')],
      { encoding: 'utf8' },
    );
    expect(build.status, build.stderr).toBe(0);
    const [wheel] = readdirSync(join(dir, 'dist'));
    expect(wheel).toBe(`lrsweep-${version}-py3-none-any.whl`);
    execFileSync('python3', ['-m', 'venv', join(dir, 'venv')]);
    const pip = spawnSync(join(dir, 'venv/bin/pip'), ['install', '-q', '--no-deps', join(dir, 'dist', wheel!)], {
      encoding: 'utf8',
    });
    expect(pip.status, pip.stderr).toBe(0);
    // From a directory outside the repository, with no PYTHONPATH: the installed package itself.
    const env = { ...process.env };
    delete env.PYTHONPATH;
    const probe = spawnSync(
      join(dir, 'venv/bin/python'),
      [
        '-c',
        'import importlib.metadata as m, importlib.resources as r, lrsweep, lrsweep.integrations; ' +
          'print(lrsweep.__version__, m.version("lrsweep"), r.files("lrsweep").joinpath("py.typed").is_file(), lrsweep.__file__)',
      ],
      { cwd: dir, env, encoding: 'utf8' },
    );
    expect(probe.status, probe.stderr).toBe(0);
    const [v, meta, typed, file] = probe.stdout.trim().split(' ');
    expect([v, meta, typed]).toEqual([version, version, 'True']);
    expect(file!.startsWith(join(dir, 'venv'))).toBe(true);
  }, 120_000);

  it('type-checks with pyright, integrations included', () => {
    needed.assert();
    const r = spawnSync(
      join(root, 'node_modules/.bin/pyright'),
      ['--pythonpath', python, join(root, 'packages/agent-python/lrsweep')],
      { encoding: 'utf8', env: { ...process.env, KERAS_BACKEND: 'torch' } },
    );
    expect(r.status, r.stdout.slice(-3000)).toBe(0);
    expect(r.stdout).toMatch(/0 errors/);
  }, 120_000);
});
