import { describe, expect, it } from 'vitest';
import { buildSchedule } from './rates';
import { scheduleSchema } from './schema';

describe('lr_range (the LR range test ramp)', () => {
  it('climbs geometrically from η·startFactor to η over its steps, then holds', () => {
    const s = buildSchedule(scheduleSchema.parse({ kind: 'lr_range', startFactor: 1e-4 }), 1, 101);
    expect(s.lrAt(0)).toBeCloseTo(1e-4, 15);
    // Halfway in steps is halfway in log LR: 1e-2.
    expect(s.lrAt(50)).toBeCloseTo(1e-2, 12);
    expect(s.lrAt(100)).toBe(1);
    expect(s.lrAt(500)).toBe(1);
    for (let t = 1; t <= 100; t++) expect(s.lrAt(t) / s.lrAt(t - 1)).toBeCloseTo(10 ** (4 / 100), 10);
  });
});
