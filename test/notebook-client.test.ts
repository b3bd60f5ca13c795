// The Python notebook client (lrsweep.Client, packages/agent-python): a session that submits a
// spec file, waits with a progress bar, reads the ranking, verdict, trials and curves as
// DataFrames and plots them — checked against the REST API's own answers — and a bad spec that
// raises an error naming the field. Runs in the Python tests' venv (pandas, tqdm, matplotlib).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { requirement, type Stack, startAgentProcess, startStack, tinySpec } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const python = process.env.LRSWEEP_TORCH_PYTHON ?? join(root, '.venv-torch/bin/python');
const hasPandas =
  existsSync(python) && spawnSync(python, ['-c', 'import pandas, tqdm, matplotlib'], { stdio: 'ignore' }).status === 0;
const needed = requirement(
  'torch',
  hasPandas,
  `pandas, tqdm and matplotlib in ${python}: .venv-torch/bin/pip install pandas tqdm matplotlib (npm test does it), or set LRSWEEP_TORCH_PYTHON`,
);

describe.skipIf(needed.skip)('the notebook client (lrsweep.Client)', () => {
  let stack: Stack;
  beforeAll(async () => {
    needed.assert();
    stack = await startStack('notebook', { workers: 1 });
  }, 120_000);
  afterAll(async () => stack?.stop());

  it('submits, waits with progress, and gives the REST answers as typed DataFrames; a bad spec raises naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lrsweep-notebook-'));
    const specFile = join(dir, 'spec.json');
    writeFileSync(
      specFile,
      JSON.stringify(
        tinySpec({
          name: 'notebook',
          model: { kind: 'mlp', hidden: [8] },
          training: { evalEvery: 1 },
          grid: { baseLr: [0.01, 0.1], schedule: [{ kind: 'constant' }, { kind: 'cosine' }], seeds: 2 },
        }),
      ),
    );
    const plotFile = join(dir, 'curves.png');
    const session = startAgentProcess(python, ['test/fixtures/notebook/client_session.py'], {
      LRSWEEP_API_URL: stack.api.url,
      LRSWEEP_TOKEN: stack.env.LRSWEEP_BOOTSTRAP_TOKEN!,
      SPEC_FILE: specFile,
      PLOT_FILE: plotFile,
    });
    expect(await session.exited, session.lines.slice(-20).join('\n')).toBe(0);
    const line = session.lines.find((l) => l.startsWith('RESULT '));
    expect(line, session.lines.slice(-20).join('\n')).toBeDefined();
    const got = JSON.parse(line!.slice('RESULT '.length));
    // The progress bar (tqdm, on stderr) counted the trials to the end.
    expect(session.lines.some((l) => /8\/8/.test(l))).toBe(true);
    expect(got.status).toBe('completed');

    const rest = (await stack.client.get(`/v1/sweeps/${got.id}/results`)).body;
    expect(got.ranking).toHaveLength(rest.ranking.length);
    expect(
      got.ranking.map((r: { rank: number; config_id: string; base_lr: number; n: number; mean: number }) => [
        r.rank,
        r.config_id,
        r.base_lr,
        r.n,
        r.mean,
      ]),
    ).toEqual(
      rest.ranking.map((r: { rank: number; configId: string; config: { baseLr: number }; n: number; mean: number }) => [
        r.rank,
        r.configId,
        r.config.baseLr,
        r.n,
        r.mean,
      ]),
    );
    expect(got.rankingTypes).toMatchObject({
      rank: 'int64',
      base_lr: 'float64',
      mean: 'float64',
      n: 'int64',
      partial: 'bool',
    });
    expect(got.objective).toEqual(rest.objective);

    const verdict = (await stack.client.get(`/v1/sweeps/${got.id}/schedules`)).body;
    expect(got.verdictText).toBe(verdict.verdict);
    expect(
      got.verdict.map((r: { schedule: string; best_lr: number; winner: boolean }) => [r.schedule, r.best_lr, r.winner]),
    ).toEqual(
      verdict.schedules.map((s: { label: string; scheduleKey: string; best: { baseLr: number } }) => [
        s.label,
        s.best.baseLr,
        s.scheduleKey === verdict.winner,
      ]),
    );

    const trials = (await stack.client.get(`/v1/sweeps/${got.id}/trials?limit=100`)).body.trials as {
      id: string;
      status: string;
      config: { seed: number };
    }[];
    expect(
      got.trials.map((t: { id: string; status: string; seed: number }) => [t.id, t.status, t.seed]).sort(),
    ).toEqual(trials.map((t) => [t.id, t.status, t.config.seed]).sort());
    expect(got.trialTypes).toMatchObject({ base_lr: 'float64', seed: 'Int64', attempt: 'Int64' });

    const curves = (await stack.client.get(`/v1/sweeps/${got.id}/curves?metric=val_loss`)).body.curves as {
      configId: string;
      steps: number[];
      mean: number[];
    }[];
    expect(got.curves).toHaveLength(curves.reduce((n, c) => n + c.steps.length, 0));
    for (const c of curves) {
      const mine = got.curves.filter((r: { config_id: string }) => r.config_id === c.configId);
      expect(mine.map((r: { step: number; mean: number }) => [r.step, r.mean])).toEqual(
        c.steps.map((s, i) => [s, c.mean[i]]),
      );
    }
    expect(got.sweepIds).toContain(got.id);
    expect(statSync(plotFile).size).toBeGreaterThan(1000);

    expect(got.bad).toMatchObject({ status: 400, code: 'SPEC_INVALID' });
    expect(got.bad.field).toMatch(/^grid\.baseLr/);

    // The transfer study's DataFrames hold the REST answer: η* per width, the law, the winner.
    const transfer = (await stack.client.get(`/v1/sweeps/${got.transferId}/transfer`)).body;
    expect(got.transferOptima.map((o: { width: number; eta_star: number }) => [o.width, o.eta_star])).toEqual(
      transfer.optima.map((o: { width: number; lr: number }) => [o.width, o.lr]),
    );
    expect(got.transferLaws).toHaveLength(1);
    expect(got.transferLaws[0]).toMatchObject({ axis: 'width', b: transfer.laws[0].b, target: 8 });
    expect(got.transferLaws[0].b).toBeCloseTo(-1, 1);
    expect(got.transferWinner).toEqual(transfer.winner);
  }, 240_000);
});
