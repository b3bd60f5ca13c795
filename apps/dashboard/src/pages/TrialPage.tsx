import { type Trial, type TrialAttempts, type TrialMetrics, trialLive } from '@lrsweep/client';
import { describeSchedule } from '@lrsweep/schedules';
import { useEffect, useMemo, useState } from 'react';
import { errorText, useApi, usePolling } from '../api';
import { AppliedLrCard } from '../charts/AppliedLrCard';
import { LinePlot, type PlotSeries } from '../charts/LinePlot';
import { tickLabel } from '../charts/scales';
import { duration, metricText as fmt } from '../format';
import { valuesLabel } from './TrialsTable';

const live = (t: Trial) => trialLive(t.status);

/** One trial: its config, outcome (validation and test side by side), provenance, attempts and curves. */
export function TrialPage({ id }: { id: string }) {
  const api = useApi();
  const trial = usePolling(() => api.getTrial(id), [api, id], { everyMs: 2000, live });
  const version = `${trial.data?.status}:${trial.data?.attempt}:${trial.data?.finishedAt}`;
  const [metrics, setMetrics] = useState<TrialMetrics>();
  const [attempts, setAttempts] = useState<TrialAttempts>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!trial.data) return;
    Promise.all([api.allTrialMetrics(id), api.trialAttempts(id)]).then(
      ([m, a]) => (setMetrics(m), setAttempts(a)),
      (e) => setError(errorText(e)),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, id, version]);

  const evalNames = useMemo(() => {
    const names = new Set<string>();
    for (const e of metrics?.evals ?? []) {
      if (e.valLoss !== null) names.add('val_loss');
      if (e.valAcc !== null) names.add('val_acc');
      for (const [k, v] of Object.entries(e.metrics ?? {})) if (v !== null && !k.startsWith('test_')) names.add(k);
    }
    return [...names];
  }, [metrics]);
  const [metric, setMetric] = useState<string>();
  const shown = metric ?? evalNames[0] ?? 'val_loss';
  const metricValue = (e: TrialMetrics['evals'][number], m: string) =>
    m === 'val_loss' ? e.valLoss : m === 'val_acc' ? e.valAcc : (e.metrics?.[m] ?? null);
  const curves: PlotSeries[] = useMemo(() => {
    if (!metrics) return [];
    const evals = metrics.evals.filter((e) => metricValue(e, shown) !== null);
    const out: PlotSeries[] = [
      { label: shown, color: '#0072b2', x: evals.map((e) => e.step), y: evals.map((e) => metricValue(e, shown)) },
    ];
    const train = metrics.updates.filter((u) => u.trainLoss !== null);
    if (shown.endsWith('_loss') && train.length)
      out.push({
        label: 'train_loss (per update)',
        color: '#d55e00',
        x: train.map((u) => u.step),
        y: train.map((u) => u.trainLoss),
      });
    return out;
  }, [metrics, shown]);
  const lr: PlotSeries[] = useMemo(
    () =>
      metrics
        ? [
            {
              label: 'applied LR',
              color: '#009e73',
              x: metrics.updates.map((u) => u.step),
              y: metrics.updates.map((u) => u.lr),
            },
          ]
        : [],
    [metrics],
  );

  const t = trial.data;
  if (!t)
    return (
      <section className="card">
        {trial.error ? <p className="error">{trial.error}</p> : <p className="muted">Loading…</p>}
      </section>
    );
  const finals = Object.entries(t.final);
  return (
    <>
      <section className="card">
        <p className="muted">
          <a href={`#/sweeps/${t.sweepId}`} data-testid="back-to-sweep">
            ← the sweep
          </a>
        </p>
        <h2>
          {describeSchedule(t.config.schedule)} @ {tickLabel(t.config.baseLr)}, seed {t.config.seed}{' '}
          <span className={`status ${t.status}`} data-testid="trial-status">
            {t.status}
          </span>
        </h2>
        {t.error && (
          <p className="error" data-testid="trial-error">
            {t.errorCode ? <code>{t.errorCode}</code> : null} {t.error}
          </p>
        )}
        {error && <p className="error">{error}</p>}
        <table className="kv" data-testid="trial-outcome">
          <thead>
            <tr>
              <th>metric</th>
              <th className="num">validation (selects)</th>
              <th className="num">test (reported)</th>
            </tr>
          </thead>
          <tbody>
            {finals.map(([k, v]) => (
              <tr key={k}>
                <td>{k.replace(/^val_/, '')}</td>
                <td className="num">{fmt(v)}</td>
                <td className="num test-split">{fmt(t.test[`test_${k.replace(/^val_/, '')}`])}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="muted">
          {t.totalSteps} updates · attempt {t.attempt} · {t.failures}/{t.failureBudget} failed attempts spent · pool{' '}
          {t.pool}
          {t.trainMs !== null && ` · trained in ${duration(t.trainMs)}`}
          {t.divergedAtStep !== null && ` · diverged at update ${t.divergedAtStep}`}
          {t.config.values && ` · ${valuesLabel(t.config.values)}`}
        </p>
      </section>
      <div className="grid2">
        <section className="card">
          <h3>Learning curve</h3>
          <div className="toolbar">
            <select aria-label="trial metric" value={shown} onChange={(e) => setMetric(e.target.value)}>
              {evalNames.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          </div>
          <LinePlot testId="trial-curve" series={curves} xLabel="update" yLabel={shown} />
        </section>
        <AppliedLrCard testId="trial-lr" series={lr} />
      </div>
      <section className="card">
        <h3>Attempts</h3>
        <table data-testid="attempts">
          <thead>
            <tr>
              <th className="num">attempt</th>
              <th>worker or agent</th>
              <th>backend</th>
              <th>started</th>
              <th>ended</th>
              <th className="num">took</th>
              <th>outcome</th>
              <th>parameter groups</th>
              <th>error</th>
            </tr>
          </thead>
          <tbody>
            {(attempts?.attempts ?? []).map((a) => (
              <tr key={a.attempt}>
                <td className="num">{a.attempt}</td>
                <td>{a.workerId ?? '–'}</td>
                <td>{a.backend ?? '–'}</td>
                <td>{new Date(a.startedAt).toLocaleString()}</td>
                <td>{a.endedAt ? new Date(a.endedAt).toLocaleString() : 'running'}</td>
                <td className="num">{a.endedAt ? duration(Date.parse(a.endedAt) - Date.parse(a.startedAt)) : '–'}</td>
                <td>
                  <span className={`status ${a.outcome ?? 'running'}`}>{a.outcome ?? 'running'}</span>
                </td>
                <td data-testid="param-groups">
                  {a.paramGroups
                    ? a.paramGroups
                        .map(
                          (g) =>
                            `${g.name} ${g.lrMultiplier}×${g.weightDecay !== undefined ? ` wd ${g.weightDecay}` : ''}`,
                        )
                        .join(' · ')
                    : '–'}
                </td>
                <td className="error">
                  {a.errorCode ? <code>{a.errorCode}</code> : null} {a.error ?? ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section className="card">
        <h3>Configuration and provenance</h3>
        <pre className="json" data-testid="trial-config">
          {JSON.stringify({ config: t.config, provenance: t.provenance }, null, 2)}
        </pre>
      </section>
    </>
  );
}
