// The Python package's own unit tests (packages/agent-python/tests), run by pytest in the Python
// tests' venv: the SDK's Slurm labels and parameter groups, and the integrations' rules.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { requirement, sdkMinors, sdkPython } from '@lrsweep/testkit';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const python = process.env.LRSWEEP_TORCH_PYTHON ?? join(root, '.venv-torch/bin/python');
const needed = requirement(
  'torch',
  existsSync(python) && spawnSync(python, ['-c', 'import pytest'], { stdio: 'ignore' }).status === 0,
  `pytest in ${python}: .venv-torch/bin/pip install pytest (npm test does it), or set LRSWEEP_TORCH_PYTHON`,
);

describe.skipIf(needed.skip)('pytest: packages/agent-python/tests', () => {
  it('passes, every test run (none skipped)', () => {
    needed.assert();
    const r = spawnSync(python, ['-m', 'pytest', '-q', '-rs', 'packages/agent-python/tests'], {
      cwd: root,
      encoding: 'utf8',
      // The installed wheel (npm test puts it in the venv), not the source tree.
      env: { ...process.env, KERAS_BACKEND: 'torch' },
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\b5 passed\b/);
    expect(r.stdout).not.toMatch(/skipped/);
  }, 120_000);

  it('every Python the tests run agents with imports lrsweep from the installed wheel, not the source tree', () => {
    needed.assert();
    const pythons = [python, ...sdkMinors.map((m) => sdkPython(m)).filter((p): p is string => p !== null)];
    expect(pythons.length).toBeGreaterThan(1);
    for (const p of pythons) {
      const r = spawnSync(p, ['-c', 'import lrsweep; print(lrsweep.__file__)'], { cwd: root, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim(), p).toMatch(/site-packages\/lrsweep\/__init__\.py$/);
    }
  });
});
