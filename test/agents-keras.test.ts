// examples/keras/train.py end to end (KERAS_BACKEND=torch): Keras 3 under lrsweep's integration
// (lrsweep.integrations.keras). The rate reported is the float64 value handed to the optimizer and
// passes the server's check at every update; a kill -9 resumes from the .keras checkpoint with no
// gap and no row kept from two attempts; a deleted sweep's trial stops within 10 s. And what Keras
// applies: the float32 rounding of the schedule's rate, update by update.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { lrSequence } from '@lrsweep/schedules';
import { requirement, startAgentProcess } from '@lrsweep/testkit';
import { describe, expect, it } from 'vitest';
import { frameworkExampleSuite } from './support/framework-flows';

frameworkExampleSuite({
  title: 'the Keras 3 example',
  script: 'examples/keras/train.py',
  pool: 'keras-cpu',
  accumulation: 1,
  modules: ['torch', 'keras'],
});

const root = resolve(import.meta.dirname, '..');
const python = process.env.LRSWEEP_TORCH_PYTHON ?? join(root, '.venv-torch/bin/python');
const needed = requirement('torch', existsSync(python), `keras and torch in ${python} (npm test installs them)`);

describe.skipIf(needed.skip)('TrialSchedule under Keras', () => {
  it('hands the optimizer the float64 rate, and Keras applies its float32 rounding', async () => {
    needed.assert();
    const rates = lrSequence({ kind: 'cosine', warmup: { steps: 5 } } as never, { baseLr: 0.0123, totalSteps: 20 });
    const p = startAgentProcess(python, ['test/fixtures/keras/applied_rate.py', JSON.stringify(rates)], {
      KERAS_BACKEND: 'torch',
    });
    expect(await p.exited, p.lines.slice(-10).join('\n')).toBe(0);
    const got = JSON.parse(p.lines.find((l) => l.startsWith('RESULT '))!.slice('RESULT '.length)) as {
      handed: number[];
      applied: number[];
    };
    // Handed: exactly lrsweep's float64 rates (what the callback reports and the server checks).
    expect(got.handed).toEqual(rates);
    // Applied: each one's float32, not a float32 of something else (warmup and decay alike).
    expect(got.applied).toEqual(rates.map((r) => Math.fround(r)));
    expect(got.applied.some((a, i) => a !== rates[i])).toBe(true);
  }, 120_000);
});
