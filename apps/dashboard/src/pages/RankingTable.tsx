import type { RankingRow } from '@lrsweep/client';
import { describeSchedule } from '@lrsweep/schedules';
import { useState } from 'react';
import { tickLabel } from '../charts/scales';
import { valuesLabel } from './TrialsTable';

type Key = 'rank' | 'schedule' | 'baseLr' | 'n' | 'mean' | 'test' | 'diverged';

/** Whether a row matches a search: every word must appear in its schedule, base LR or own axes. */
export const matches = (text: string, query: string) =>
  query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => text.toLowerCase().includes(w));

/**
 * The ranking, mean ± 95% CI on the split that selects, the test split beside it; click a header
 * to sort by it (again to reverse); the search box filters rows.
 */
export function RankingTable({
  rows,
  metric,
  testMetric,
  selected,
  onToggle,
  colorOf,
}: {
  rows: RankingRow[];
  metric: string;
  testMetric: string | null;
  selected: Set<string>;
  onToggle: (id: string) => void;
  colorOf: (scheduleKey: string) => string;
}) {
  const [sort, setSort] = useState<{ key: Key; dir: 1 | -1 }>({ key: 'rank', dir: 1 });
  const [query, setQuery] = useState('');
  const testOf = (r: RankingRow) => (testMetric ? (r.test[testMetric] ?? null) : null);
  const value = (r: RankingRow, k: Key): number | string =>
    k === 'schedule'
      ? describeSchedule(r.config.schedule)
      : k === 'baseLr'
        ? r.config.baseLr
        : k === 'mean'
          ? (r.mean ?? Infinity)
          : k === 'test'
            ? (testOf(r)?.mean ?? Infinity)
            : r[k];
  const text = (r: RankingRow) =>
    `${describeSchedule(r.config.schedule)} ${r.config.baseLr} ${tickLabel(r.config.baseLr)} ${valuesLabel(r.config.values)}`;
  const shown = rows.filter((r) => matches(text(r), query));
  const sorted = [...shown].sort((a, b) => {
    const x = value(a, sort.key);
    const y = value(b, sort.key);
    return sort.dir * (typeof x === 'string' ? x.localeCompare(String(y)) : x - (y as number));
  });
  const withTest = testMetric !== null && rows.some((r) => testOf(r)?.mean != null);
  const withValues = rows.some((r) => r.config.values);
  const withHorizon = rows.some((r) => r.config.horizon !== undefined);
  const th = (key: Key, label: string, num = false, title?: string) => (
    <th
      className={`sortable${num ? ' num' : ''}`}
      title={title}
      onClick={() => setSort((s) => ({ key, dir: s.key === key ? (-s.dir as 1 | -1) : 1 }))}
    >
      {label}
      {sort.key === key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
    </th>
  );
  if (rows.length === 0) return <p className="empty">No configurations yet.</p>;
  const pm = (m: number | null, ci: [number, number] | null) =>
    m === null ? '–' : `${m.toFixed(4)}${ci ? ` ± ${((ci[1] - ci[0]) / 2).toFixed(4)}` : ''}`;
  return (
    <>
      <div className="toolbar">
        <input
          type="search"
          aria-label="filter ranking"
          data-testid="ranking-filter"
          placeholder="filter: cosine, 0.01 …"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        {query && (
          <span className="muted">
            {shown.length} of {rows.length}
          </span>
        )}
      </div>
      <table data-testid="ranking">
        <thead>
          <tr>
            <th title="plot its curves">plot</th>
            {th('rank', 'rank', true)}
            {th('schedule', 'schedule')}
            {th('baseLr', 'base LR', true)}
            {withValues && <th>config</th>}
            {withHorizon && (
              <th className="num" title="the trial's horizon T in updates">
                horizon
              </th>
            )}
            {th('n', 'seeds', true)}
            {th('mean', `validation ${metric} ± 95% CI`, true, 'the split the ranking selects on')}
            {withTest &&
              th(
                'test',
                `${testMetric} ± 95% CI`,
                true,
                'the test split, measured once after training: it never selects',
              )}
            {th('diverged', 'diverged', true)}
          </tr>
        </thead>
        <tbody>
          {sorted.map((r) => (
            <tr key={r.configId} data-config={r.configId}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`plot ${r.configId}`}
                  checked={selected.has(r.configId)}
                  onChange={() => onToggle(r.configId)}
                />
              </td>
              <td className="num">{r.rank}</td>
              <td>
                <span className="swatch" style={{ background: colorOf(r.scheduleKey) }} />
                {describeSchedule(r.config.schedule)}
              </td>
              <td className="num">{tickLabel(r.config.baseLr)}</td>
              {withValues && <td>{valuesLabel(r.config.values)}</td>}
              {withHorizon && <td className="num">{r.config.horizon ?? ''}</td>}
              <td className="num">
                {r.n}/{r.seeds}
                {r.partial && <span className="badge">partial</span>}
              </td>
              <td className="num" data-mean={r.mean ?? ''}>
                {pm(r.mean, r.ci95)}
              </td>
              {withTest && <td className="num test-split">{pm(testOf(r)?.mean ?? null, testOf(r)?.ci95 ?? null)}</td>}
              <td className="num">{r.diverged ? <span className="badge">{r.diverged} diverged</span> : 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
