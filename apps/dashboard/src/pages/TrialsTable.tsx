import type { Trial } from '@lrsweep/client';
import { describeSchedule } from '@lrsweep/schedules';
import { duration } from '../format';

/** A trainer's own axes (grid.config) of a configuration: `weight_decay=0.01, width=64`. */
export const valuesLabel = (v: Record<string, unknown> | undefined) =>
  v ? Object.entries(v).map(([k, x]) => `${k}=${String(x)}`).join(', ') : '';

export function TrialsTable({ trials, total }: { trials: Trial[]; total: number }) {
  const withValues = trials.some((t) => t.config.values);
  return (
    <>
      <table data-testid="trials">
        <thead>
          <tr><th>schedule</th><th className="num">base LR</th>{withValues && <th>config</th>}<th className="num">seed</th><th>status</th><th className="num">attempt</th><th>pool</th><th title="the worker or agent that holds or held it">by</th><th>backend</th><th className="num" title="from queued to claimed by a worker">started after</th><th className="num" title="the training loop of the finished attempt">training</th><th className="num">final val loss</th><th>error</th></tr>
        </thead>
        <tbody>
          {trials.map((t) => (
            <tr key={t.id}>
              <td>{describeSchedule(t.config.schedule)}</td>
              <td className="num">{t.config.baseLr}</td>
              {withValues && <td>{valuesLabel(t.config.values)}</td>}
              <td className="num">{t.config.seed}</td>
              <td><span className={`status ${t.status}`}>{t.status}</span>{t.divergedAtStep !== null && <span className="muted"> at step {t.divergedAtStep}</span>}</td>
              <td className="num">{t.attempt}</td>
              <td>{t.pool}</td>
              <td>{t.workerId ?? '–'}</td>
              <td>{t.backend ?? '–'}</td>
              <td className="num">{t.startedAt ? duration(Date.parse(t.startedAt) - Date.parse(t.queuedAt)) : '–'}</td>
              <td className="num" data-testid="train-time">{t.trainMs !== null ? duration(t.trainMs) : '–'}</td>
              <td className="num">{t.finalValLoss?.toFixed(4) ?? '–'}</td>
              <td className="error">{t.error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {total > trials.length && <p className="muted">Showing {trials.length} of {total} trials.</p>}
    </>
  );
}
