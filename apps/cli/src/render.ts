import type { RankingRow, SweepDetail } from '@lrsweep/client';
import { describeSchedule } from '@lrsweep/schedules';
import { formatTable } from './table';

/** The ranking as a plain-text table. */
export function rankingTable(rows: readonly RankingRow[], metric: string): string {
  return formatTable(
    ['rank', 'schedule', 'base LR', 'seeds', `mean ${metric}`, '95% CI', 'diverged', ''],
    rows.map((r) => [
      String(r.rank),
      describeSchedule(r.config.schedule),
      String(r.config.baseLr),
      String(r.n),
      r.mean === null ? '–' : r.mean.toFixed(4),
      r.ci95 ? `[${r.ci95[0].toFixed(4)}, ${r.ci95[1].toFixed(4)}]` : '–',
      String(r.diverged),
      r.partial ? 'partial' : '',
    ]),
    { alignRight: [0, 2, 3, 4, 6] },
  );
}

/** `[████░░░░] 12/24 done · 2 running · 0 failed · 0 diverged · 31s` */
export function progressLine(s: SweepDetail, elapsedS: number, width = 30): string {
  const c = s.counts;
  const done = c.completed + c.failed + c.diverged + c.cancelled;
  const filled = Math.round((done / Math.max(1, c.total)) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${c.total} done · ${c.running} running · ${c.failed} failed · ${c.diverged} diverged · ${elapsedS.toFixed(0)}s`;
}
