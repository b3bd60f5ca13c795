// `pnpm docs:schedules`: writes docs/schedules.md and docs/schedules/<kind>.svg.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ScheduleKind, scheduleExamples } from '@lrsweep/schedules';
import { curveSvg, schedulesMarkdown } from './lib/schedule-docs';

const docs = resolve(dirname(fileURLToPath(import.meta.url)), '../docs');
mkdirSync(resolve(docs, 'schedules'), { recursive: true });
writeFileSync(resolve(docs, 'schedules.md'), schedulesMarkdown());
for (const kind of Object.keys(scheduleExamples) as ScheduleKind[])
  writeFileSync(resolve(docs, 'schedules', `${kind}.svg`), curveSvg(kind));
console.log(`wrote ${resolve(docs, 'schedules.md')} and ${Object.keys(scheduleExamples).length} curves`);
