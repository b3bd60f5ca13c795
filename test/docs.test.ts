// The schedule docs are generated from the code; this fails when they were not regenerated.
import { readFileSync } from 'node:fs';
import { type ScheduleKind, scheduleExamples } from '@lrsweep/schedules';
import { describe, expect, it } from 'vitest';
import { curveSvg, schedulesMarkdown } from '../scripts/lib/schedule-docs';

const read = (p: string) => readFileSync(new URL(`../docs/${p}`, import.meta.url), 'utf8');

describe('docs/schedules.md', () => {
  it('is current (run `pnpm docs:schedules` after changing a schedule)', () => {
    expect(read('schedules.md')).toBe(schedulesMarkdown());
    for (const kind of Object.keys(scheduleExamples) as ScheduleKind[])
      expect(read(`schedules/${kind}.svg`)).toBe(curveSvg(kind));
  });

  it('has a row, an example and a plot for every kind', () => {
    const md = read('schedules.md');
    for (const kind of Object.keys(scheduleExamples)) {
      expect(md).toContain(`| \`${kind}\` |`);
      expect(md).toContain(`![${kind}](schedules/${kind}.svg)`);
    }
    expect(md).toContain('**stepSize**');
  });
});
