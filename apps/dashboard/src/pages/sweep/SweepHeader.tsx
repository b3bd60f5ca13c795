// The sweep page's first card: name and status, why trials failed, progress and counts, which
// split it selects on, the actions, and the page's error or notice.
import type { SweepDetail } from '@lrsweep/client';
import { ForkPlan } from '../ForkPlan';
import { Progress } from '../Progress';
import { running } from './useSweepData';

export function SweepHeader(p: {
  sweep: SweepDetail;
  busy: boolean;
  error?: string;
  notice?: string;
  onAct: (what: 'cancel' | 'retry' | 'delete') => void;
  onCsv: () => void;
}) {
  const s = p.sweep;
  return (
    <section className="card">
      <h2>
        {s.name}{' '}
        <span className={`status ${s.status}`} data-testid="sweep-status">
          {s.status}
        </span>
      </h2>
      {s.failures.length > 0 && (
        <div className="failures" data-testid="failures" role="alert">
          <b>
            {s.counts.failed} trial{s.counts.failed === 1 ? '' : 's'} failed:
          </b>
          <ul>
            {s.failures.map((f) => (
              <li key={f.code + f.message} data-code={f.code} data-count={f.count}>
                <b>{f.count}×</b> <code>{f.code}</code> {f.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      <Progress counts={s.counts} />
      {s.forks && <ForkPlan forks={s.forks} />}
      <p className="muted" data-testid="counts">
        {s.counts.completed} completed · {s.counts.running} running · {s.counts.queued} queued · {s.counts.failed}{' '}
        failed · {s.counts.diverged} diverged · {s.counts.cancelled} cancelled
      </p>
      <SelectedOn sweep={s} />
      <Numerics sweep={s} />
      <div className="toolbar">
        <button type="button" className="secondary" disabled={p.busy || !running(s)} onClick={() => p.onAct('cancel')}>
          Cancel sweep
        </button>
        <button
          type="button"
          className="secondary"
          disabled={p.busy || s.counts.failed === 0 || s.status === 'cancelled'}
          onClick={() => p.onAct('retry')}
        >
          Retry failed trials
        </button>
        <button type="button" className="secondary" onClick={p.onCsv}>
          Download trials CSV
        </button>
        <button type="button" className="danger" disabled={p.busy} onClick={() => p.onAct('delete')}>
          Delete sweep
        </button>
      </div>
      {p.error && <p className="error">{p.error}</p>}
      {p.notice && (
        <p className="muted" data-testid="notice">
          {p.notice}
        </p>
      )}
    </section>
  );
}

/** Which split ranks the sweep: validation, the trainer's own metric, or (warned) the test split. */
function SelectedOn({ sweep: s }: { sweep: SweepDetail }) {
  return (
    <p className="muted" data-testid="selected-on">
      {s.selectedOn === 'test' ? (
        <span className="badge warn">selects on the test split</span>
      ) : s.selectedOn === 'validation' ? (
        'Ranked on the validation split; the test split is shown beside it and never selects.'
      ) : (
        "Ranked on the trainer's own metric."
      )}
      {s.selectedOn === 'test' &&
        ' This sweep has no validation split (validationSize 0): its ranking and verdict are chosen on the test data and are optimistic.'}
    </p>
  );
}

/** The numerics key every trial trains under (built-in sweeps), and why waiting trials cannot run, if so. */
function Numerics({ sweep: s }: { sweep: SweepDetail }) {
  return (
    <>
      {s.numerics && (
        <p className="muted" data-testid="numerics" title={`chosen by ${s.numerics.chosenBy}: ${s.numerics.reason}`}>
          trains under <code>{s.numerics.id}</code>
        </p>
      )}
      {s.unrunnable && (
        <p className="error" data-testid="unrunnable" role="alert">
          {s.unrunnable}
        </p>
      )}
    </>
  );
}
