import type { LrsweepClient } from '@lrsweep/client';
import { useEffect, useState } from 'react';
import { errorText, useApi } from '../api';
import { LinePlot } from '../charts/LinePlot';

/** Where the new-sweep form finds a draft handed to it (a range test's suggested grid). */
export const draftKey = 'lrsweep.draft';

type RangeTestView = Awaited<ReturnType<LrsweepClient['rangeTest']>>;

const lr = (x: number | null) => (x === null ? '–' : x.toPrecision(2));

/**
 * An LR range test's answer: loss against the rate applied (seeds averaged, and smoothed), where
 * it fell fastest, its low and where it diverged, and the base-LR grid it suggests — which the
 * new-sweep form takes in one click.
 */
export function RangeTestCard({ id, spec, version }: { id: string; spec: Record<string, unknown>; version: string }) {
  const api = useApi();
  const [r, setR] = useState<RangeTestView>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api.rangeTest(id).then(setR, (e) => setError(errorText(e)));
  }, [api, id, version]);
  const openGridForm = () => {
    if (!r) return;
    // The same data, model, optimizer and seeds; a grid over the suggestion, two schedules to compare.
    const {
      search: _search,
      grid,
      training,
      name,
      ...rest
    } = spec as { search?: unknown; grid?: Record<string, unknown>; training?: Record<string, unknown>; name?: string };
    // The ramp's horizon was its own; the grid trains for the spec's epochs.
    const { totalSteps: _t, ...ownTraining } = training ?? {};
    const draft = {
      name: `${name ?? 'sweep'}-grid`,
      ...rest,
      training: ownTraining,
      grid: { ...grid, baseLr: r.suggested.baseLr, schedule: [{ kind: 'constant' }, { kind: 'cosine' }] },
    };
    sessionStorage.setItem(draftKey, JSON.stringify(draft, null, 2));
    location.hash = '#/new';
  };
  return (
    <section className="card" data-testid="range-test">
      <h3>LR range test {r?.provisional && <span className="badge">provisional</span>}</h3>
      {error && <p className="error">{error}</p>}
      {r && (
        <>
          <p className="muted" data-testid="range-test-summary">
            {r.seeds} seed(s): steepest descent at {lr(r.steepestLr)} · lowest loss at {lr(r.minLossLr)} ·{' '}
            {r.divergedAtLr === null ? 'no divergence within the ramp' : `diverged at ${lr(r.divergedAtLr)}`}
          </p>
          <LinePlot
            testId="range-test-plot"
            logX
            xLabel="learning rate"
            yLabel="training loss"
            series={[
              {
                label: 'loss (seed mean)',
                color: '#9ca3af',
                x: r.points.map((p) => p.lr),
                y: r.points.map((p) => p.loss),
              },
              { label: 'smoothed', color: '#0072b2', x: r.points.map((p) => p.lr), y: r.points.map((p) => p.smoothed) },
            ]}
          />
          <div className="toolbar">
            <span data-testid="range-test-suggested">suggested base LRs: [{r.suggested.baseLr.join(', ')}]</span>
            <button type="button" disabled={!r.suggested.baseLr.length} onClick={openGridForm}>
              New sweep over these LRs
            </button>
          </div>
        </>
      )}
    </section>
  );
}
