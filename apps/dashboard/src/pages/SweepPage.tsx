import {
  type Curves,
  type MetricName,
  type Results,
  type ScheduleAnalysis,
  type SweepDetail,
  sweepEnded,
  type TrialPage,
} from '@lrsweep/client';
import { useEffect, useMemo, useState } from 'react';
import { errorText, useApi, usePolling } from '../api';
import { AppliedLrCard } from '../charts/AppliedLrCard';
import { LinePlot, type PlotMarker, type PlotSeries } from '../charts/LinePlot';
import { band, type BandKind, bandLabels, dashes, metricBounds, scheduleColors } from '../charts/scales';
import { testMetricOf } from '../format';
import { PrunedTable } from './AshaViews';
import { ForkPlan } from './ForkPlan';
import { Progress } from './Progress';
import { RangeTestCard } from './RangeTestCard';
import { TransferCard } from './TransferCard';
import { RankingTable } from './RankingTable';
import { TrialsTable } from './TrialsTable';
import { Heatmap, VerdictTable } from './Verdict';

const running = (s: SweepDetail) => !sweepEnded(s.status);
/** How many of the best configurations the curves follow until the user picks some. */
const followTop = 5;

/** Saves text as a file the browser downloads (the token stays in a header, never in a link). */
function download(name: string, text: string, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function SweepPage({ id }: { id: string }) {
  const api = useApi();
  // Bumped when the page itself makes the sweep run again (an extension): polling restarts.
  const [generation, setGeneration] = useState(0);
  const sweep = usePolling(() => api.getSweep(id), [api, id, generation], { everyMs: 1000, live: running });
  // Everything else reloads whenever the trial counts move.
  const version = JSON.stringify(sweep.data?.counts ?? null);
  const [results, setResults] = useState<Results>();
  const [analysis, setAnalysis] = useState<ScheduleAnalysis>();
  const [trials, setTrials] = useState<TrialPage>();
  const [curves, setCurves] = useState<Curves>();
  const [metric, setMetric] = useState<MetricName | null>(null);
  const [bandKind, setBandKind] = useState<BandKind>('ci');
  // null: follow the current top configurations; a set once the user picks.
  const [picked, setPicked] = useState<Set<string> | null>(null);
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!sweep.data) return;
    Promise.all([api.results(id), api.schedules(id), api.listTrials(id, { limit: 500 })])
      .then(([r, a, t]) => {
        setResults(r);
        setAnalysis(a);
        setTrials(t);
      })
      .catch((e) => setError(errorText(e)));
  }, [api, id, version]);

  const objective =
    results?.objective.metric ?? (sweep.data?.objective as { metric?: MetricName } | undefined)?.metric ?? 'val_loss';
  const mode = results?.objective.mode ?? 'min';
  const shownMetric = metric ?? objective;
  const topIds = useMemo(
    () =>
      (results?.ranking ?? [])
        .filter((r) => r.mean !== null)
        .slice(0, followTop)
        .map((r) => r.configId),
    [results],
  );
  const configs = useMemo(() => (picked ? [...picked] : topIds), [picked, topIds]);
  const configKey = configs.join(',');
  useEffect(() => {
    if (!configs.length) return setCurves(undefined);
    api.curves(id, { metric: shownMetric, configs, points: 400 }).then(setCurves, (e) => setError(errorText(e)));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, id, shownMetric, configKey, version]);

  const scheduleOf = useMemo(
    () => new Map((results?.ranking ?? []).map((r) => [r.configId, r.scheduleKey])),
    [results],
  );
  const colorOf = useMemo(() => scheduleColors(scheduleOf.values()), [scheduleOf]);

  const sensitivity = useMemo(() => {
    const bounds = metricBounds(objective);
    const series: PlotSeries[] = [];
    const markers: PlotMarker[] = [];
    for (const s of analysis?.schedules ?? []) {
      const pts = s.sensitivity.filter((p) => p.mean !== null);
      const bands = pts.map((p) => band(bandKind, p, bounds));
      const color = colorOf(s.scheduleKey);
      if (pts.length)
        series.push({
          label: s.label,
          color,
          x: pts.map((p) => p.baseLr),
          y: pts.map((p) => p.mean),
          lo: bands.map((b) => b?.[0] ?? null),
          hi: bands.map((b) => b?.[1] ?? null),
        });
      for (const p of s.sensitivity)
        if (p.mean === null && p.diverged > 0) markers.push({ label: s.label, x: p.baseLr, color });
    }
    return {
      series,
      markers,
      fewSeeds: (analysis?.schedules ?? []).some((s) => s.sensitivity.some((p) => p.mean !== null && p.n < 3)),
    };
  }, [analysis, bandKind, colorOf, objective]);

  /** Within a schedule, each plotted base LR gets its own dash. */
  const dashOf = useMemo(() => {
    const lrsOf = new Map<string, number[]>();
    for (const c of curves?.curves ?? []) {
      const k = scheduleOf.get(c.configId) ?? c.label;
      lrsOf.set(
        k,
        [...new Set([...(lrsOf.get(k) ?? []), c.baseLr])].sort((a, b) => a - b),
      );
    }
    return (configId: string, baseLr: number) =>
      dashes[(lrsOf.get(scheduleOf.get(configId) ?? '')?.indexOf(baseLr) ?? 0) % dashes.length];
  }, [curves, scheduleOf]);

  const learning: PlotSeries[] = useMemo(() => {
    const bounds = metricBounds(shownMetric);
    return (curves?.curves ?? [])
      .filter((c) => c.steps.length)
      .map((c) => {
        const bands = c.steps.map((_, i) =>
          band(
            bandKind,
            {
              mean: c.mean[i]!,
              ci95: c.ci95Lo[i] !== null && c.ci95Hi[i] !== null ? [c.ci95Lo[i]!, c.ci95Hi[i]!] : null,
              sem: c.sem[i] ?? null,
              range: c.min[i] !== null && c.max[i] !== null ? [c.min[i]!, c.max[i]!] : null,
            },
            bounds,
          ),
        );
        return {
          label: c.label,
          color: colorOf(scheduleOf.get(c.configId) ?? ''),
          dash: dashOf(c.configId, c.baseLr),
          x: c.steps,
          y: c.mean,
          lo: bands.map((b) => b?.[0] ?? null),
          hi: bands.map((b) => b?.[1] ?? null),
        };
      });
  }, [curves, bandKind, colorOf, scheduleOf, dashOf, shownMetric]);
  const curvesFewSeeds = (curves?.curves ?? []).some((c) => c.n.some((n) => n < 3));
  const lrs: PlotSeries[] = useMemo(
    () =>
      (curves?.curves ?? [])
        .filter((c) => c.lr.steps.length)
        .map((c) => ({
          label: c.label,
          color: colorOf(scheduleOf.get(c.configId) ?? ''),
          dash: dashOf(c.configId, c.baseLr),
          x: c.lr.steps,
          y: c.lr.mean,
        })),
    [curves, colorOf, scheduleOf, dashOf],
  );

  const act = async (what: 'cancel' | 'retry' | 'delete') => {
    const s = sweep.data;
    if (what === 'cancel' && !confirm('Cancel this sweep? Queued trials are dropped and running ones stop.')) return;
    if (
      what === 'delete' &&
      !confirm(
        `Delete sweep '${s?.name}' with its ${s?.counts.total} trials and all their metrics? This cannot be undone.`,
      )
    )
      return;
    setBusy(true);
    try {
      if (what === 'delete') {
        await api.deleteSweep(id);
        location.hash = '#/';
        return;
      }
      await (what === 'cancel' ? api.cancelSweep(id) : api.retrySweep(id));
      location.reload();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  /** Adds a base LR to the grid (every schedule, every seed): only the new trials run. */
  const extend = async (baseLr: number) => {
    if (
      !confirm(
        `Add base LR ${baseLr} to the grid? Every schedule runs at it with the sweep's seeds; existing trials stay as they are.`,
      )
    )
      return;
    try {
      const r = await api.extendSweep(id, { baseLr: [baseLr] }, { idempotencyKey: crypto.randomUUID() });
      setError(undefined);
      setNotice(`Added ${r.addedTrials} trials (base LR ${baseLr}); the sweep now has ${r.trialCount}.`);
      setGeneration((g) => g + 1);
    } catch (e) {
      setError(errorText(e));
    }
  };
  const csv = async () => {
    try {
      download(`trials-${id}.csv`, await api.trialsCsv(id));
    } catch (e) {
      setError(errorText(e));
    }
  };

  const s = sweep.data;
  if (!s)
    return (
      <section className="card">
        {sweep.error ? <p className="error">{sweep.error}</p> : <p className="muted">Loading…</p>}
      </section>
    );
  const testMetric = testMetricOf(objective);
  const bandNote =
    bandKind === 'ci' && (sensitivity.fewSeeds || curvesFewSeeds)
      ? 'Some points have fewer than 3 seeds: their 95% CI is very wide (clamped to the metric range). SEM or min–max may read better.'
      : null;
  const bandPicker = (
    <select
      aria-label="band"
      data-testid="band"
      value={bandKind}
      onChange={(e) => setBandKind(e.target.value as BandKind)}
    >
      {(Object.keys(bandLabels) as BandKind[]).map((k) => (
        <option key={k} value={k}>
          band: {bandLabels[k]}
        </option>
      ))}
    </select>
  );
  return (
    <>
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
        <div className="toolbar">
          <button type="button" className="secondary" disabled={busy || !running(s)} onClick={() => act('cancel')}>
            Cancel sweep
          </button>
          <button
            type="button"
            className="secondary"
            disabled={busy || s.counts.failed === 0 || s.status === 'cancelled'}
            onClick={() => act('retry')}
          >
            Retry failed trials
          </button>
          <button type="button" className="secondary" onClick={csv}>
            Download trials CSV
          </button>
          <button type="button" className="danger" disabled={busy} onClick={() => act('delete')}>
            Delete sweep
          </button>
        </div>
        {(error || sweep.error) && <p className="error">{error ?? sweep.error}</p>}
        {notice && (
          <p className="muted" data-testid="notice">
            {notice}
          </p>
        )}
      </section>
      {(s.spec as { search?: { kind?: string } } | undefined)?.search?.kind === 'range_test' && (
        <RangeTestCard id={id} spec={s.spec as Record<string, unknown>} version={version} />
      )}
      {(s.spec as { transfer?: unknown } | undefined)?.transfer !== undefined && (
        <TransferCard id={id} version={version} />
      )}
      <section className="card">
        <h3>Verdict {analysis?.provisional && <span className="badge">provisional</span>}</h3>
        {analysis && (
          <>
            <VerdictTable
              analysis={analysis}
              ranking={results?.ranking ?? []}
              colorOf={colorOf}
              onExtend={s.status === 'cancelled' ? undefined : extend}
            />
            <p className="verdict" data-testid="verdict">
              {analysis.provisional ? '(provisional) ' : ''}
              {analysis.verdict}
            </p>
          </>
        )}
      </section>
      <div className="grid2">
        <section className="card">
          <h3>{objective} by base LR × schedule</h3>
          {results && analysis && (
            <Heatmap
              ranking={results.ranking}
              analysis={analysis}
              mode={mode}
              colorOf={colorOf}
              pruned={results.pruned ?? []}
            />
          )}
        </section>
        <section className="card">
          <h3>LR sensitivity</h3>
          <div className="toolbar">
            {bandPicker}
            <span className="muted">{objective} at each base LR, per schedule</span>
          </div>
          <LinePlot
            testId="sensitivity-plot"
            series={sensitivity.series}
            markers={sensitivity.markers}
            worst={mode === 'min' ? 'top' : 'bottom'}
            logX
            xLabel="base LR"
            yLabel={objective}
          />
        </section>
      </div>
      {bandNote && (
        <p className="muted note" data-testid="band-note">
          {bandNote}
        </p>
      )}
      {analysis && analysis.horizons.length > 0 && (
        <section className="card">
          <h3>{objective} against horizon, each schedule at its best base LR</h3>
          <p className="muted">
            How the verdict changes with the budget: one line per schedule of the grid, one point per horizon (updates).
          </p>
          <LinePlot
            testId="horizon-plot"
            logX={
              Math.max(...analysis.horizons.flatMap((h) => h.points.map((p) => p.horizon))) /
                Math.min(...analysis.horizons.flatMap((h) => h.points.map((p) => p.horizon))) >
              4
            }
            xLabel="horizon (updates)"
            yLabel={objective}
            series={analysis.horizons.map((h, i) => ({
              label: h.label,
              color: colorOf(h.points[0]!.scheduleKey),
              dash: dashes[i % dashes.length],
              x: h.points.map((p) => p.horizon),
              y: h.points.map((p) => p.mean),
              lo: h.points.map((p) => p.ci95?.[0] ?? null),
              hi: h.points.map((p) => p.ci95?.[1] ?? null),
            }))}
          />
        </section>
      )}
      <section className="card">
        <h3>Ranking {results?.provisional && <span className="badge">provisional</span>}</h3>
        {results && (
          <RankingTable
            rows={results.ranking}
            metric={objective}
            testMetric={testMetric}
            colorOf={colorOf}
            selected={new Set(configs)}
            onToggle={(cid) =>
              setPicked((cur) => {
                const n = new Set(cur ?? configs);
                if (n.has(cid)) n.delete(cid);
                else n.add(cid);
                return n;
              })
            }
          />
        )}
        {results?.pruned && results.pruned.length > 0 && <PrunedTable rows={results.pruned} />}
      </section>
      <div className="grid2">
        <section className="card">
          <h3>Learning curves</h3>
          <div className="toolbar">
            <select
              aria-label="curve metric"
              value={shownMetric}
              onChange={(e) => setMetric(e.target.value as MetricName)}
            >
              {curveMetrics(s).map((m) => (
                <option key={m} value={m}>
                  {m}
                  {m === objective ? ' (objective)' : ''}
                </option>
              ))}
            </select>
            {bandPicker}
            {picked ? (
              <button type="button" className="link" onClick={() => setPicked(null)}>
                follow the top {followTop}
              </button>
            ) : (
              <span className="muted" data-testid="following">
                following the top {followTop}; tick rows in the ranking to pick
              </span>
            )}
          </div>
          <LinePlot testId="curves-plot" series={learning} xLabel="update" yLabel={shownMetric} />
        </section>
        <AppliedLrCard testId="lr-plot" series={lrs} />
      </div>
      <section className="card">
        <h3>Trials</h3>
        {trials && <TrialsTable trials={trials.trials} total={trials.total} metric={objective} />}
      </section>
    </>
  );
}

/** The metrics a sweep's curves can show: the loss, the task's second metric (accuracy, RMSE or perplexity) or an external trainer's objective, the training loss. */
function curveMetrics(s: SweepDetail): MetricName[] {
  const spec = s.spec as { runner?: { kind?: string }; dataset?: { name?: string; task?: string } };
  const objective = (s.objective as { metric?: string } | null)?.metric ?? 'val_loss';
  const second =
    spec.runner?.kind === 'external'
      ? objective
      : spec.dataset?.name === 'text'
        ? 'val_ppl'
        : spec.dataset?.task === 'regression'
          ? 'val_rmse'
          : 'val_acc';
  return [...new Set([objective, 'val_loss', second, 'train_loss'])] as MetricName[];
}
