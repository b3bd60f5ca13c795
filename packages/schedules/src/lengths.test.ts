// SCHEDULES.md v1.1: lengths as fractions of a horizon and as epochs, `interval: "epoch"`, and
// exponential's endFactor and minFactor, against PyTorch's schedulers stepped per update or per
// epoch (fixtures/v1.1-lengths.json, written by scripts/v1-1-lengths-fixtures.py).
import { describe, expect, it } from 'vitest';
import fixture from './fixtures/v1.1-lengths.json' with { type: 'json' };
import { canonicalSchedule, lrSequence, parseScheduleFor, type ScheduleDraftInput } from './index';

const close = (got: number[], want: number[]) => {
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) =>
    expect(Math.abs(g - want[i]!), `update ${i}: ${g} vs ${want[i]}`).toBeLessThanOrEqual(
      Math.max(1e-12 * Math.abs(want[i]!), 1e-15),
    ),
  );
};

describe('lengths in the units people use, against PyTorch', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const lr = lrSequence(c.schedule as ScheduleDraftInput, {
      baseLr: c.baseLr,
      totalSteps: c.totalSteps,
      ...(c.stepsPerEpoch ? { stepsPerEpoch: c.stepsPerEpoch } : {}),
    });
    close(lr, c.lr);
  });
});

describe('resolution', () => {
  it('resolves each length in the horizon it lives in, rounding up as Hugging Face does', () => {
    const r = parseScheduleFor(
      {
        kind: 'sequential',
        warmup: { steps: { fraction: 0.1 } },
        milestones: [{ fraction: 0.5 }],
        parts: [
          { kind: 'step', stepSize: { fraction: 0.25 } },
          { kind: 'cosine', steps: { epochs: 1.5 } },
        ],
      },
      { horizon: 200, stepsPerEpoch: 30 },
    );
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    // warmup: ceil(0.1·200) = 20; milestone: ceil(0.5·180) = 90; part 0 spans 90: ceil(0.25·90) = 23; 1.5 epochs of 30 = 45.
    expect(r.spec).toMatchObject({ warmup: { steps: 20 }, milestones: [90], parts: [{ stepSize: 23 }, { steps: 45 }] });
  });

  it('refuses what cannot be resolved or does not fit, naming the field', () => {
    const bad = (spec: unknown, ctx: { horizon: number; stepsPerEpoch?: number }) => {
      const r = parseScheduleFor(spec, ctx);
      return r.ok ? [] : r.issues.map((i) => i.path);
    };
    expect(bad({ kind: 'step', stepSize: { epochs: 2 } }, { horizon: 100 })).toEqual(['stepSize']);
    expect(bad({ kind: 'cosine', interval: 'epoch' }, { horizon: 100 })).toEqual(['interval']);
    expect(bad({ kind: 'step', stepSize: { fraction: 1.5 } }, { horizon: 100 })).toEqual(['stepSize.fraction']);
    expect(bad({ kind: 'multistep', milestones: [{ fraction: 0.6 }, { fraction: 0.3 }] }, { horizon: 100 })).toEqual([
      'milestones',
    ]);
    expect(bad({ kind: 'reduce_on_plateau', interval: 'epoch' }, { horizon: 100, stepsPerEpoch: 10 })).toEqual([
      'interval',
    ]);
    expect(
      bad(
        { kind: 'sequential', parts: [{ kind: 'constant', interval: 'epoch' }, { kind: 'cosine' }], milestones: [10] },
        { horizon: 100, stepsPerEpoch: 10 },
      ),
    ).toEqual(['parts[0].interval']);
    expect(bad({ kind: 'exponential', gamma: 0.9, endFactor: 0.1 }, { horizon: 100 })).toEqual(['gamma']);
    expect(bad({ kind: 'exponential', gamma: 0.9, steps: 10 }, { horizon: 100 })).toEqual(['steps']);
  });

  it('drops the new parameters left at their defaults, so v1 schedules keep their identity', () => {
    const r = parseScheduleFor({ kind: 'exponential', gamma: 0.95, interval: 'update' }, { horizon: 10 });
    if (!r.ok) throw new Error('invalid');
    expect(canonicalSchedule(r.spec)).toEqual({ kind: 'exponential', gamma: 0.95 });
  });
});
