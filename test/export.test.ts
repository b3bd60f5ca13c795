// `lrsweep export tensorboard`: a sweep's series written as one TensorBoard run per trial, read
// back with TensorBoard's own EventAccumulator, equal to the REST series (TensorBoard keeps
// float32), with each trial's configuration as hparams; exporting twice duplicates nothing.
// The TypeScript CLI runs the Python package's exporter (python -m lrsweep export).
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { bootstrapToken, requirement, type Stack, startAgentProcess, startStack, tinySpec } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const python = process.env.LRSWEEP_TORCH_PYTHON ?? join(root, '.venv-torch/bin/python');
const hasTensorboard =
  existsSync(python) && spawnSync(python, ['-c', 'import tensorboard'], { stdio: 'ignore' }).status === 0;
const needed = requirement(
  'torch',
  hasTensorboard,
  `tensorboard in ${python}: .venv-torch/bin/pip install tensorboard (npm test does it), or set LRSWEEP_TORCH_PYTHON`,
);
const tsx = createRequire(join(root, 'apps/cli/package.json')).resolve('tsx');

interface Metrics {
  updates: { step: number; lr: number; trainLoss: number | null }[];
  evals: { step: number; valLoss: number | null; valAcc: number | null; metrics?: Record<string, number | null> }[];
}

describe.skipIf(needed.skip)('lrsweep export tensorboard', () => {
  let stack: Stack;
  beforeAll(async () => {
    needed.assert();
    stack = await startStack('export', { workers: 1 });
  }, 120_000);
  afterAll(async () => stack?.stop());

  let sweepId = '';
  const cli = (args: string[], pythonAt = python) =>
    promisify(execFile)(process.execPath, ['--import', tsx, join(root, 'apps/cli/src/main.ts'), ...args], {
      env: { ...process.env, LRSWEEP_API_URL: stack.api.url, LRSWEEP_TOKEN: bootstrapToken, LRSWEEP_PYTHON: pythonAt },
    });

  it('writes a run per trial equal to the REST series, hparams included, and replaces it when run again', async () => {
    const created = await stack.client.post(
      '/v1/sweeps',
      tinySpec({
        name: 'export',
        dataset: { validationSize: 50 },
        model: { hidden: [8] },
        training: { epochs: 2, evalEvery: 3 },
        grid: { schedule: [{ kind: 'constant' }, { kind: 'cosine' }], seeds: 2 },
      }),
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    sweepId = id;
    await stack.client.waitForSweep(id, 120_000);
    const out = mkdtempSync(join(tmpdir(), 'lrsweep-tb-'));

    const first = await cli(['export', 'tensorboard', id.slice(0, 8), '--out', out]);
    expect(first.stdout).toMatch(/4 trial runs in /);
    expect(first.stderr).toMatch(/4\/4 trials/);
    await cli(['export', 'tensorboard', id, '--out', out]);

    const reader = startAgentProcess(python, ['test/fixtures/export/read_tensorboard.py', out], {});
    expect(await reader.exited, reader.lines.slice(-20).join('\n')).toBe(0);
    const got = JSON.parse(reader.lines.find((l) => l.startsWith('RESULT '))!.slice('RESULT '.length)) as {
      runs: Record<
        string,
        { scalars: Record<string, [number, number][]>; most: number; hparams: Record<string, string | number> }
      >;
      rootFiles: number;
    };
    // One run per trial, one experiment summary: the second export replaced the first.
    expect(got.rootFiles).toBe(1);
    const trials = (await stack.client.get(`/v1/sweeps/${id}/trials`)).body.trials as {
      id: string;
      config: { baseLr: number; seed: number; schedule: { kind: string } };
    }[];
    expect(Object.keys(got.runs)).toHaveLength(trials.length);
    const f = Math.fround;
    for (const t of trials) {
      const [name, run] = Object.entries(got.runs).find(([n]) => n.endsWith(t.id))!;
      expect(run.most, `${name}: an event written twice`).toBe(1);
      expect(run.hparams).toEqual({
        base_lr: t.config.baseLr,
        schedule: t.config.schedule.kind,
        seed: t.config.seed,
        _trial_id: t.id,
      });
      const m = (await stack.client.get(`/v1/trials/${t.id}/metrics`)).body as Metrics;
      expect(m.updates).toHaveLength(6); // 150 training samples, batches of 50, 2 epochs
      expect(run.scalars.lr).toEqual(m.updates.map((u) => [u.step, f(u.lr)]));
      expect(run.scalars.train_loss).toEqual(m.updates.map((u) => [u.step, f(u.trainLoss!)]));
      expect(run.scalars.val_loss).toEqual(m.evals.map((e) => [e.step, f(e.valLoss!)]));
      expect(run.scalars.val_acc).toEqual(m.evals.map((e) => [e.step, f(e.valAcc!)]));
      // test_* once, at the horizon.
      const last = m.evals.at(-1)!;
      expect(run.scalars.test_loss).toEqual([[last.step, f(last.metrics!.test_loss!)]]);
    }
  }, 240_000);

  it('says what to do when Python cannot be run, and refuses an export without --out', async () => {
    const fail = (args: string[], at?: string) =>
      cli(args, at).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
    const noPython = await fail(['export', 'tensorboard', sweepId, '--out', '/tmp/x'], '/nonexistent/python');
    expect(noPython.code).toBe(1);
    expect(noPython.stderr).toMatch(/set LRSWEEP_PYTHON/);
    const noOut = await fail(['export', 'tensorboard', sweepId]);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/needs --out/);
  });
});
