import type { RankingRow } from '@lrsweep/client';
import { describeSchedule } from '@lrsweep/schedules';
import { useState } from 'react';

type Key = 'rank' | 'schedule' | 'baseLr' | 'n' | 'mean' | 'diverged';
const value = (r: RankingRow, k: Key): number | string =>
  k === 'schedule' ? describeSchedule(r.config.schedule) : k === 'baseLr' ? r.config.baseLr : k === 'mean' ? (r.mean ?? Infinity) : r[k];

/** The ranking, mean ± 95% CI; click a header to sort by it (again to reverse). */
export function RankingTable({ rows, metric, selected, onToggle }: { rows: RankingRow[]; metric: string; selected: Set<string>; onToggle: (id: string) => void }) {
  const [sort, setSort] = useState<{ key: Key; dir: 1 | -1 }>({ key: 'rank', dir: 1 });
  const sorted = [...rows].sort((a, b) => {
    const x = value(a, sort.key);
    const y = value(b, sort.key);
    return sort.dir * (typeof x === 'string' ? x.localeCompare(String(y)) : x - (y as number));
  });
  const th = (key: Key, label: string, num = false) => (
    <th className={`sortable${num ? ' num' : ''}`} onClick={() => setSort((s) => ({ key, dir: s.key === key ? (-s.dir as 1 | -1) : 1 }))}>
      {label}
      {sort.key === key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
    </th>
  );
  if (rows.length === 0) return <p className="empty">No configurations yet.</p>;
  return (
    <table data-testid="ranking">
      <thead>
        <tr>
          <th title="plot its curves">plot</th>
          {th('rank', 'rank', true)}
          {th('schedule', 'schedule')}
          {th('baseLr', 'base LR', true)}
          {th('n', 'seeds', true)}
          {th('mean', `mean ${metric} ± 95% CI`, true)}
          {th('diverged', 'diverged', true)}
        </tr>
      </thead>
      <tbody>
        {sorted.map((r) => (
          <tr key={r.configId} data-config={r.configId}>
            <td><input type="checkbox" aria-label={`plot ${r.configId}`} checked={selected.has(r.configId)} onChange={() => onToggle(r.configId)} /></td>
            <td className="num">{r.rank}</td>
            <td>{describeSchedule(r.config.schedule)}</td>
            <td className="num">{r.config.baseLr}</td>
            <td className="num">
              {r.n}/{r.seeds}
              {r.partial && <span className="badge">partial</span>}
            </td>
            <td className="num">{r.mean === null ? '–' : `${r.mean.toFixed(4)}${r.ci95 ? ` ± ${((r.ci95[1] - r.ci95[0]) / 2).toFixed(4)}` : ''}`}</td>
            <td className="num">{r.diverged ? <span className="badge">{r.diverged} diverged</span> : 0}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
