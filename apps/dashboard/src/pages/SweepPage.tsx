// A sweep: its state and actions, the verdict, the heatmap and LR sensitivity, the verdict against
// the horizon, the ranking, the learning and applied-LR curves, and its trials. The data comes from
// hooks (sweep/useSweepData, sweep/usePlotSeries, sweep/useSweepActions); the cards are components.
import type { MetricName } from '@lrsweep/client';
import { useState } from 'react';
import { AppliedLrCard } from '../charts/AppliedLrCard';
import type { BandKind } from '../charts/scales';
import { RangeTestCard } from './RangeTestCard';
import { BandPicker, HorizonCard, LearningCurvesCard } from './sweep/SweepCharts';
import { RankingCard, SensitivityCard, VerdictCard } from './sweep/SweepCards';
import { SweepHeader } from './sweep/SweepHeader';
import { useCurveSeries, useScheduleColors, useSensitivity } from './sweep/usePlotSeries';
import { useSweepActions } from './sweep/useSweepActions';
import { useFollowedCurves, useSweepData } from './sweep/useSweepData';
import { TransferCard } from './TransferCard';
import { TrialsTable } from './TrialsTable';
import { Heatmap } from './Verdict';

export function SweepPage({ id }: { id: string }) {
  const [error, setError] = useState<string>();
  // Bumped when the page itself makes the sweep run again (an extension): polling restarts.
  const [generation, setGeneration] = useState(0);
  const { sweep, version, results, analysis, trials, objective, mode } = useSweepData(id, generation, setError);
  const [metric, setMetric] = useState<MetricName | null>(null);
  const [bandKind, setBandKind] = useState<BandKind>('ci');
  const shownMetric = metric ?? objective;
  const followed = useFollowedCurves(id, results, shownMetric, version, setError);
  const { scheduleOf, colorOf } = useScheduleColors(results);
  const sensitivity = useSensitivity(analysis, bandKind, colorOf, objective);
  const plotted = useCurveSeries(followed.curves, bandKind, shownMetric, scheduleOf, colorOf);
  const actions = useSweepActions(id, sweep.data, () => setGeneration((g) => g + 1), setError);

  const s = sweep.data;
  if (!s)
    return (
      <section className="card">
        {sweep.error ? <p className="error">{sweep.error}</p> : <p className="muted">Loading…</p>}
      </section>
    );
  const bandNote =
    bandKind === 'ci' && (sensitivity.fewSeeds || plotted.fewSeeds)
      ? 'Some points have fewer than 3 seeds: their 95% CI is very wide (clamped to the metric range). SEM or min–max may read better.'
      : null;
  const bandPicker = <BandPicker value={bandKind} onChange={setBandKind} />;
  const spec = s.spec as { search?: { kind?: string }; transfer?: unknown } | undefined;
  return (
    <>
      <SweepHeader
        sweep={s}
        busy={actions.busy}
        error={error ?? sweep.error}
        notice={actions.notice}
        onAct={actions.act}
        onCsv={actions.csv}
      />
      {spec?.search?.kind === 'range_test' && (
        <RangeTestCard id={id} spec={s.spec as Record<string, unknown>} version={version} />
      )}
      {spec?.transfer !== undefined && <TransferCard id={id} version={version} />}
      <VerdictCard
        analysis={analysis}
        ranking={results?.ranking ?? []}
        colorOf={colorOf}
        onExtend={s.status === 'cancelled' ? undefined : actions.extend}
      />
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
        <SensitivityCard objective={objective} mode={mode} bandPicker={bandPicker} {...sensitivity} />
      </div>
      {bandNote && (
        <p className="muted note" data-testid="band-note">
          {bandNote}
        </p>
      )}
      {analysis && analysis.horizons.length > 0 && (
        <HorizonCard analysis={analysis} objective={objective} colorOf={colorOf} />
      )}
      <RankingCard
        results={results}
        objective={objective}
        colorOf={colorOf}
        selected={followed.configs}
        onToggle={followed.toggle}
      />
      <div className="grid2">
        <LearningCurvesCard
          sweep={s}
          objective={objective}
          metric={shownMetric}
          onMetric={setMetric}
          bandPicker={bandPicker}
          picked={followed.picked}
          onFollowTop={followed.followTop}
          series={plotted.learning}
        />
        <AppliedLrCard testId="lr-plot" series={plotted.lrs} />
      </div>
      <section className="card">
        <h3>Trials</h3>
        {trials && <TrialsTable trials={trials.trials} total={trials.total} metric={objective} />}
      </section>
    </>
  );
}
