import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lrSequence, type ScheduleInput } from './index';

interface Case {
  name: string;
  reference: string;
  baseLr: number;
  totalSteps: number;
  schedule: ScheduleInput;
  lr: number[];
  metrics?: number[];
}
const here = dirname(fileURLToPath(import.meta.url));
const file = resolve(here, '../../../../shared/fixtures/schedules/reference.json');
const ref = JSON.parse(readFileSync(file, 'utf8')) as {
  tolerance: { relative: number; absolute: number };
  cases: Case[];
};

describe('schedules match PyTorch and Hugging Face (shared/fixtures/schedules/reference.json)', () => {
  it('has reference cases', () => expect(ref.cases.length).toBeGreaterThan(20));
  it.each(ref.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const got = lrSequence(c.schedule, { baseLr: c.baseLr, totalSteps: c.totalSteps, metrics: c.metrics });
    expect(got).toHaveLength(c.lr.length);
    c.lr.forEach((want, i) => {
      const tol = Math.max(ref.tolerance.absolute, ref.tolerance.relative * Math.abs(want));
      if (!(Math.abs(got[i]! - want) <= tol)) {
        throw new Error(`${c.name} (${c.reference}) step ${i}: got ${got[i]}, want ${want}`);
      }
    });
  });
});
