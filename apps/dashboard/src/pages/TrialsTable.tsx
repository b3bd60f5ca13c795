import type { Trial } from '@lrsweep/client';
import { describeSchedule } from '@lrsweep/schedules';
import { duration } from '../format';

export function TrialsTable({ trials, total }: { trials: Trial[]; total: number }) {
  return (
    <>
      <table data-testid="trials">
        <thead>
          <tr><th>schedule</th><th className="num">base LR</th><th className="num">seed</th><th>status</th><th className="num">attempt</th><th>backend</th><th className="num" title="from queued to claimed by a worker">started after</th><th className="num" title="the training loop of the finished attempt">training</th><th className="num">final val loss</th><th>error</th></tr>
        </thead>
        <tbody>
          {trials.map((t) => (
            <tr key={t.id}>
              <td>{describeSchedule(t.config.schedule)}</td>
              <td className="num">{t.config.baseLr}</td>
              <td className="num">{t.config.seed}</td>
              <td><span className={`status ${t.status}`}>{t.status}</span>{t.divergedAtStep !== null && <span className="muted"> at step {t.divergedAtStep}</span>}</td>
              <td className="num">{t.attempt}</td>
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
