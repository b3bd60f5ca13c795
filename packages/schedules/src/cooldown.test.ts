// The `cooldown` modifier: a schedule's last updates go from its rate there down to zero.
import { describe, expect, it } from 'vitest';
import { describeSchedule, horizonIssues, lrSequence, parseSchedule, parseScheduleFor } from './index';

describe('a cooldown ending a schedule', () => {
  it('makes constant exactly wsd, in every shape', () => {
    for (const shape of ['linear', 'cosine', '1-sqrt'] as const) {
      const cooled = lrSequence(
        { kind: 'constant', warmup: { steps: 5, startFactor: 0.1 }, cooldown: { steps: 12, shape } },
        { baseLr: 0.3, totalSteps: 50 },
      );
      const wsd = lrSequence(
        { kind: 'wsd', decaySteps: 12, decayShape: shape, minFactor: 0, warmup: { steps: 5, startFactor: 0.1 } },
        { baseLr: 0.3, totalSteps: 50 },
      );
      expect(cooled).toEqual(wsd);
    }
  });

  it('starts from where the schedule stands, and leaves the updates before it alone', () => {
    const plain = lrSequence({ kind: 'cosine', steps: 100 }, { baseLr: 1, totalSteps: 80 });
    const cooled = lrSequence(
      { kind: 'cosine', steps: 100, cooldown: { fraction: 0.25 } },
      { baseLr: 1, totalSteps: 80 },
    );
    // ceil(0.25·80) = 20 updates from update 60, linearly from cosine's rate at 60.
    expect(cooled.slice(0, 60)).toEqual(plain.slice(0, 60));
    cooled.slice(60).forEach((v, i) => expect(v).toBeCloseTo(plain[60]! * (1 - i / 20), 15));
  });

  it('resolves a fraction against the trial’s whole horizon, warmup included, and shows it resolved', () => {
    const r = parseScheduleFor(
      { kind: 'linear', endFactor: 0.5, warmup: { steps: 10 }, cooldown: { fraction: 0.07, shape: '1-sqrt' } },
      { horizon: 100 },
    );
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    // ceil of the float64 product, as SCHEDULES.md v1.1 says: 0.07·100 is 7.000000000000001, so 8.
    expect(r.spec).toMatchObject({ cooldown: { steps: 8, shape: '1-sqrt' } });
    expect((r.spec as { cooldown: object }).cooldown).not.toHaveProperty('fraction');
    expect(describeSchedule(r.spec)).toBe('linear(endFactor=0.5) + warmup 10 + cooldown 8 1-sqrt');
  });

  it('refuses what it cannot mean, naming the field', () => {
    const issues = (s: unknown, horizon = 100) => {
      const p = parseSchedule(s);
      if (!p.ok) return p.issues;
      const r = parseScheduleFor(s, { horizon });
      return r.ok ? horizonIssues(r.spec, horizon) : r.issues;
    };
    expect(issues({ kind: 'constant', cooldown: { steps: 10, fraction: 0.1 } })[0]!.path).toBe('cooldown.steps');
    expect(issues({ kind: 'constant', cooldown: {} })[0]!.path).toBe('cooldown.steps');
    expect(issues({ kind: 'constant', warmup: { steps: 60 }, cooldown: { steps: 50 } })[0]).toMatchObject({
      path: 'cooldown.steps',
      message: expect.stringContaining('longer than the schedule after its warmup (40)'),
    });
    expect(
      issues({
        kind: 'sequential',
        milestones: [50],
        parts: [{ kind: 'constant', cooldown: { steps: 5 } }, { kind: 'cosine' }],
      })[0]!.path,
    ).toBe('parts[0].cooldown');
    // reduce_on_plateau's cooldown is PyTorch's (evaluations to wait), not this.
    expect(issues({ kind: 'reduce_on_plateau', cooldown: { steps: 5 } })[0]!.path).toBe('cooldown');
    expect(issues({ kind: 'reduce_on_plateau', cooldown: 2 })).toEqual([]);
  });
});
