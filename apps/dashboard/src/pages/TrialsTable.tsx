import type { Trial } from '@lrsweep/client';
import { trialStatuses } from '@lrsweep/client';
import { describeSchedule } from '@lrsweep/schedules';
import { useState } from 'react';
import { tickLabel } from '../charts/scales';
import { duration, metricText as fmt, testMetricOf } from '../format';

/** A trainer's own axes (grid.config) of a configuration: `weight_decay=0.01, width=64`. */
export const valuesLabel = (v: Record<string, unknown> | undefined) =>
  v
    ? Object.entries(v)
        .map(([k, x]) => `${k}=${String(x)}`)
        .join(', ')
    : '';

/** The trials, with the objective's final validation value and its test counterpart; filter by text and status. */
export function TrialsTable({ trials, total, metric }: { trials: Trial[]; total: number; metric: string }) {
  const [query, setQuery] = useState('');
  const [status, setStatus] = useState<string>('');
  const withValues = trials.some((t) => t.config.values);
  const testMetric = testMetricOf(metric);
  const withTest = testMetric !== null && trials.some((t) => t.test[testMetric] != null);
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const text = (t: Trial) =>
    `${describeSchedule(t.config.schedule)} ${t.config.baseLr} ${tickLabel(t.config.baseLr)} seed ${t.config.seed} ${t.status} ${t.workerId ?? ''} ${t.error ?? ''} ${valuesLabel(t.config.values)}`.toLowerCase();
  const shown = trials.filter((t) => (!status || t.status === status) && words.every((w) => text(t).includes(w)));
  return (
    <>
      <div className="toolbar">
        <input
          type="search"
          aria-label="filter trials"
          data-testid="trials-filter"
          placeholder="filter: cosine, seed 2, worker …"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <select aria-label="trial status" value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">any status</option>
          {trialStatuses.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        {(query || status) && (
          <span className="muted">
            {shown.length} of {trials.length}
          </span>
        )}
      </div>
      <table data-testid="trials">
        <thead>
          <tr>
            <th>schedule</th>
            <th className="num">base LR</th>
            {withValues && <th>config</th>}
            <th className="num">seed</th>
            <th>status</th>
            <th className="num">attempt</th>
            <th>pool</th>
            <th title="the worker or agent that holds or held it">by</th>
            <th>backend</th>
            <th className="num" title="from queued to claimed by a worker">
              started after
            </th>
            <th className="num" title="the training loop of the finished attempt">
              training
            </th>
            <th className="num" title="the last evaluation, on the validation split">
              final {metric}
            </th>
            {withTest && (
              <th className="num" title="measured once after training; never selects">
                {testMetric}
              </th>
            )}
            <th>error</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((t) => (
            <tr key={t.id} data-trial={t.id}>
              <td>
                <a href={`#/trials/${t.id}`}>{describeSchedule(t.config.schedule)}</a>
              </td>
              <td className="num">{tickLabel(t.config.baseLr)}</td>
              {withValues && <td>{valuesLabel(t.config.values)}</td>}
              <td className="num">{t.config.seed}</td>
              <td>
                <span className={`status ${t.status}`}>{t.status}</span>
                {t.divergedAtStep !== null && <span className="muted"> at step {t.divergedAtStep}</span>}
              </td>
              <td className="num">{t.attempt}</td>
              <td>{t.pool}</td>
              <td>{t.workerId ?? '–'}</td>
              <td>{t.backend ?? '–'}</td>
              <td className="num">{t.startedAt ? duration(Date.parse(t.startedAt) - Date.parse(t.queuedAt)) : '–'}</td>
              <td className="num" data-testid="train-time">
                {t.trainMs !== null ? duration(t.trainMs) : '–'}
              </td>
              <td className="num" data-testid="final-objective">
                {fmt(t.final[metric])}
              </td>
              {withTest && <td className="num test-split">{fmt(t.test[testMetric!])}</td>}
              <td className="error">{t.error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {total > trials.length && (
        <p className="muted">
          Showing {trials.length} of {total} trials (the CSV has them all).
        </p>
      )}
    </>
  );
}
