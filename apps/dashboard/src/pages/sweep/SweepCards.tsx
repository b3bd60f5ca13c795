// The sweep page's result cards: the verdict (with "add this base LR"), LR sensitivity per
// schedule, and the ranking whose rows pick the curves to follow.
import type { MetricName, Results, ScheduleAnalysis } from '@lrsweep/client';
import { LinePlot, type PlotMarker, type PlotSeries } from '../../charts/LinePlot';
import { testMetricOf } from '../../format';
import { PrunedTable } from '../AshaViews';
import { RankingTable } from '../RankingTable';
import { VerdictTable } from '../Verdict';

export function VerdictCard(p: {
  analysis: ScheduleAnalysis | undefined;
  ranking: Results['ranking'];
  colorOf: (scheduleKey: string) => string;
  onExtend: ((baseLr: number) => void) | undefined;
}) {
  const analysis = p.analysis;
  return (
    <section className="card">
      <h3>Verdict {analysis?.provisional && <span className="badge">provisional</span>}</h3>
      {analysis && (
        <>
          <VerdictTable analysis={analysis} ranking={p.ranking} colorOf={p.colorOf} onExtend={p.onExtend} />
          <p className="verdict" data-testid="verdict">
            {analysis.provisional ? '(provisional) ' : ''}
            {analysis.verdict}
          </p>
        </>
      )}
    </section>
  );
}

export function SensitivityCard(p: {
  objective: MetricName;
  mode: 'min' | 'max';
  bandPicker: React.ReactNode;
  series: PlotSeries[];
  markers: PlotMarker[];
}) {
  return (
    <section className="card">
      <h3>LR sensitivity</h3>
      <div className="toolbar">
        {p.bandPicker}
        <span className="muted">{p.objective} at each base LR, per schedule</span>
      </div>
      <LinePlot
        testId="sensitivity-plot"
        series={p.series}
        markers={p.markers}
        worst={p.mode === 'min' ? 'top' : 'bottom'}
        logX
        xLabel="base LR"
        yLabel={p.objective}
      />
    </section>
  );
}

export function RankingCard(p: {
  results: Results | undefined;
  objective: MetricName;
  colorOf: (scheduleKey: string) => string;
  selected: string[];
  onToggle: (configId: string) => void;
}) {
  const results = p.results;
  return (
    <section className="card">
      <h3>Ranking {results?.provisional && <span className="badge">provisional</span>}</h3>
      {results && (
        <RankingTable
          rows={results.ranking}
          metric={p.objective}
          testMetric={testMetricOf(p.objective)}
          colorOf={p.colorOf}
          selected={new Set(p.selected)}
          onToggle={p.onToggle}
        />
      )}
      {results?.pruned && results.pruned.length > 0 && <PrunedTable rows={results.pruned} />}
    </section>
  );
}
