import type { Curves, MetricName, Results, ScheduleAnalysis, SweepDetail, TrialPage } from '@lrsweep/client';
import { useEffect, useMemo, useState } from 'react';
import { errorText, useApi, usePolling } from '../api';
import { LinePlot, type PlotSeries } from '../charts/LinePlot';
import { Progress } from './Progress';
import { RankingTable } from './RankingTable';
import { TrialsTable } from './TrialsTable';

const running = (s: SweepDetail) => s.status === 'queued' || s.status === 'running';

export function SweepPage({ id }: { id: string }) {
  const api = useApi();
  const sweep = usePolling(() => api.getSweep(id), [api, id], { everyMs: 1000, live: running });
  // Everything else reloads whenever the trial counts move.
  const version = JSON.stringify(sweep.data?.counts ?? null);
  const [results, setResults] = useState<Results>();
  const [analysis, setAnalysis] = useState<ScheduleAnalysis>();
  const [trials, setTrials] = useState<TrialPage>();
  const [curves, setCurves] = useState<Curves>();
  const [metric, setMetric] = useState<MetricName>('val_loss');
  const [selected, setSelected] = useState<Set<string> | null>(null);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!sweep.data) return;
    Promise.all([api.results(id), api.schedules(id), api.listTrials(id, { limit: 200 })])
      .then(([r, a, t]) => {
        setResults(r);
        setAnalysis(a);
        setTrials(t);
        setSelected((s) => s ?? new Set(r.ranking.slice(0, 5).map((x) => x.configId)));
      })
      .catch((e) => setError(errorText(e)));
  }, [api, id, version]);

  const configs = useMemo(() => [...(selected ?? [])], [selected]);
  useEffect(() => {
    if (!configs.length) return setCurves(undefined);
    api.curves(id, { metric, configs, points: 400 }).then(setCurves, (e) => setError(errorText(e)));
  }, [api, id, metric, configs, version]);

  const sensitivity: PlotSeries[] = useMemo(
    () =>
      (analysis?.schedules ?? [])
        .map((s) => {
          const pts = s.sensitivity.filter((p) => p.mean !== null);
          return { label: s.label, x: pts.map((p) => p.baseLr), y: pts.map((p) => p.mean), lo: pts.map((p) => p.ci95?.[0] ?? null), hi: pts.map((p) => p.ci95?.[1] ?? null) };
        })
        .filter((s) => s.x.length > 0),
    [analysis],
  );
  const learning: PlotSeries[] = useMemo(
    () => (curves?.curves ?? []).filter((c) => c.steps.length).map((c) => ({ label: c.label, x: c.steps, y: c.mean, lo: c.ci95Lo, hi: c.ci95Hi })),
    [curves],
  );
  const lrs: PlotSeries[] = useMemo(() => (curves?.curves ?? []).filter((c) => c.lr.steps.length).map((c) => ({ label: c.label, x: c.lr.steps, y: c.lr.mean })), [curves]);

  const act = async (what: 'cancel' | 'retry') => {
    if (what === 'cancel' && !confirm('Cancel this sweep? Queued trials are dropped and running ones stop.')) return;
    setBusy(true);
    try {
      await (what === 'cancel' ? api.cancelSweep(id) : api.retrySweep(id));
      location.reload();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const s = sweep.data;
  if (!s) return <section className="card">{sweep.error ? <p className="error">{sweep.error}</p> : <p className="muted">Loading…</p>}</section>;
  return (
    <>
      <section className="card">
        <h2>
          {s.name} <span className={`status ${s.status}`} data-testid="sweep-status">{s.status}</span>
        </h2>
        <Progress counts={s.counts} />
        <p className="muted" data-testid="counts">
          {s.counts.completed} completed · {s.counts.running} running · {s.counts.queued} queued · {s.counts.failed} failed · {s.counts.diverged} diverged · {s.counts.cancelled} cancelled
        </p>
        <div className="toolbar">
          <button className="secondary" disabled={busy || !running(s)} onClick={() => act('cancel')}>Cancel sweep</button>
          <button className="secondary" disabled={busy || s.counts.failed === 0 || s.status === 'cancelled'} onClick={() => act('retry')}>Retry failed trials</button>
        </div>
        {(error || sweep.error) && <p className="error">{error ?? sweep.error}</p>}
        {analysis && <p className="verdict" data-testid="verdict">{analysis.provisional ? '(provisional) ' : ''}{analysis.verdict}</p>}
      </section>
      <section className="card">
        <h3>Ranking {results?.provisional && <span className="badge">provisional</span>}</h3>
        {results && (
          <RankingTable
            rows={results.ranking}
            metric={results.objective.metric}
            selected={selected ?? new Set()}
            onToggle={(cid) => setSelected((cur) => { const n = new Set(cur ?? []); n.has(cid) ? n.delete(cid) : n.add(cid); return n; })}
          />
        )}
      </section>
      <div className="grid2">
        <section className="card">
          <h3>LR sensitivity</h3>
          <p className="muted">{results?.objective.metric} at each base LR, per schedule, with 95% CI bands.</p>
          <LinePlot testId="sensitivity-plot" series={sensitivity} logX xLabel="base LR" yLabel={results?.objective.metric ?? ''} />
        </section>
        <section className="card">
          <h3>Learning curves</h3>
          <div className="toolbar">
            <select aria-label="curve metric" value={metric} onChange={(e) => setMetric(e.target.value as MetricName)}>
              {curveMetrics(s).map((m) => (
                <option key={m} value={m}>{m}</option>
              ))}
            </select>
            <span className="muted">mean ± 95% CI across seeds; pick configurations in the ranking</span>
          </div>
          <LinePlot testId="curves-plot" series={learning} xLabel="update" yLabel={metric} />
        </section>
      </div>
      <section className="card">
        <h3>Applied learning rate</h3>
        <LinePlot testId="lr-plot" series={lrs} xLabel="update" yLabel="lr" height={200} />
      </section>
      <section className="card">
        <h3>Trials</h3>
        {trials && <TrialsTable trials={trials.trials} total={trials.total} />}
      </section>
    </>
  );
}

/** The metrics a sweep's curves can show: the loss, the task's second metric (accuracy, RMSE or perplexity) or an external trainer's objective, the training loss. */
function curveMetrics(s: SweepDetail): MetricName[] {
  const spec = s.spec as { runner?: { kind?: string }; dataset?: { name?: string; task?: string } };
  const objective = (s.objective as { metric?: string } | null)?.metric ?? 'val_loss';
  const second = spec.runner?.kind === 'external' ? objective : spec.dataset?.name === 'text' ? 'val_ppl' : spec.dataset?.task === 'regression' ? 'val_rmse' : 'val_acc';
  return [...new Set(['val_loss', second, objective, 'train_loss'])];
}
