// Checkpoint files: a write that fails (here ENOSPC, the disk full) leaves no partial file.
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCheckpointFiles } from './checkpoint-files';

const state = {
  step: 20,
  epoch: 0,
  batchStart: 40,
  perm: Int32Array.from([2, 0, 1]),
  rngState: 7,
  weights: [Float32Array.from([1, 2, 3])],
  optimizer: { t: 20, slots: [Float32Array.from([0.1, 0.2, 0.3])] },
  observed: [] as [number, number][],
  summary: {
    firstLoss: 2,
    windowSum: 0,
    windowN: 0,
    finalTrainLoss: null,
    finalValLoss: null,
    bestValLoss: null,
    finalMetrics: {},
  },
};

describe('checkpoint files', () => {
  it('round-trips a state', async () => {
    const files = createCheckpointFiles(mkdtempSync(join(tmpdir(), 'lrsweep-ck-')));
    const path = await files.write('00000000-0000-4000-8000-000000000001', 1, state);
    expect(await files.read(path)).toEqual(state);
  });

  it('removes the partial file when the disk is full (ENOSPC)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lrsweep-ck-'));
    const trial = '00000000-0000-4000-8000-000000000002';
    mkdirSync(join(dir, trial));
    // Writes to /dev/full fail with ENOSPC: the temporary file of this write is made to be it.
    symlinkSync('/dev/full', join(dir, trial, `a1-s20.ckpt.${process.pid}.tmp`));
    const files = createCheckpointFiles(dir);
    await expect(files.write(trial, 1, state)).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(readdirSync(join(dir, trial))).toEqual([]);
  });
});
