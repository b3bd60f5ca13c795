// The sweep page's chart cards: the band picker they share, the verdict against the horizon, and
// the learning curves of the followed configurations.
import type { MetricName, ScheduleAnalysis, SweepDetail } from '@lrsweep/client';
import { LinePlot, type PlotSeries } from '../../charts/LinePlot';
import { type BandKind, bandLabels, dashes } from '../../charts/scales';
import { followTop } from './useSweepData';

export function BandPicker({ value, onChange }: { value: BandKind; onChange: (k: BandKind) => void }) {
  return (
    <select aria-label="band" data-testid="band" value={value} onChange={(e) => onChange(e.target.value as BandKind)}>
      {(Object.keys(bandLabels) as BandKind[]).map((k) => (
        <option key={k} value={k}>
          band: {bandLabels[k]}
        </option>
      ))}
    </select>
  );
}

/** On a horizon axis: each schedule of the grid at its best base LR, one point per horizon. */
export function HorizonCard({
  analysis,
  objective,
  colorOf,
}: {
  analysis: ScheduleAnalysis;
  objective: MetricName;
  colorOf: (scheduleKey: string) => string;
}) {
  const horizons = analysis.horizons.flatMap((h) => h.points.map((p) => p.horizon));
  return (
    <section className="card">
      <h3>{objective} against horizon, each schedule at its best base LR</h3>
      <p className="muted">
        How the verdict changes with the budget: one line per schedule of the grid, one point per horizon (updates).
      </p>
      <LinePlot
        testId="horizon-plot"
        logX={Math.max(...horizons) / Math.min(...horizons) > 4}
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
  );
}

export function LearningCurvesCard(p: {
  sweep: SweepDetail;
  objective: MetricName;
  metric: MetricName;
  onMetric: (m: MetricName) => void;
  bandPicker: React.ReactNode;
  picked: boolean;
  onFollowTop: () => void;
  series: PlotSeries[];
}) {
  return (
    <section className="card">
      <h3>Learning curves</h3>
      <div className="toolbar">
        <select aria-label="curve metric" value={p.metric} onChange={(e) => p.onMetric(e.target.value as MetricName)}>
          {curveMetrics(p.sweep).map((m) => (
            <option key={m} value={m}>
              {m}
              {m === p.objective ? ' (objective)' : ''}
            </option>
          ))}
        </select>
        {p.bandPicker}
        {p.picked ? (
          <button type="button" className="link" onClick={p.onFollowTop}>
            follow the top {followTop}
          </button>
        ) : (
          <span className="muted" data-testid="following">
            following the top {followTop}; tick rows in the ranking to pick
          </span>
        )}
      </div>
      <LinePlot testId="curves-plot" series={p.series} xLabel="update" yLabel={p.metric} />
    </section>
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
