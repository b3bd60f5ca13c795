import { useRef, useState } from 'react';
import type { PlotMarker } from './plot-data';
import { PlotLegend } from './PlotLegend';
import { type PlotOptions, usePlot } from './usePlot';

export type { PlotMarker, PlotSeries } from './plot-data';

const noMarkers: PlotMarker[] = [];

/**
 * A dense line chart (uPlot: canvas, thousands of points per series without strain) with bands,
 * a hover readout of every series at the cursor, a legend whose entries toggle their series,
 * scientific tick labels, optional log axes and diverged markers at the worst edge.
 *
 * What it draws is readable from the DOM for tests and scripts: `data-series` (label, colour,
 * points plotted, the band's extent, hidden), `data-xticks`/`data-yticks` (the labels drawn),
 * `data-markers`, and the readout's `data-readout` (x and each series' value at the cursor).
 */
export function LinePlot(props: Omit<PlotOptions, 'markers'> & { markers?: PlotMarker[]; testId: string }) {
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const hiddenRef = useRef(hidden);
  hiddenRef.current = hidden;
  const markers = props.markers ?? noMarkers;
  const { el, readout, plot } = usePlot({ ...props, markers }, hiddenRef);

  const toggle = (label: string) => {
    const next = new Set(hidden);
    if (next.has(label)) next.delete(label);
    else next.add(label);
    setHidden(next);
    const i = props.series.findIndex((s) => s.label === label);
    if (plot.current && i >= 0)
      for (const k of [1, 2, 3]) plot.current.setSeries(3 * i + k, { show: !next.has(label) });
  };

  if (props.series.length === 0) return <p className="empty">No completed trials to plot yet.</p>;
  return (
    <>
      <div className="plot" ref={el} data-testid={props.testId} />
      <div className="readout muted" ref={readout} data-testid={`${props.testId}-readout`} aria-live="polite" />
      <PlotLegend
        series={props.series}
        hidden={hidden}
        diverged={markers.length > 0}
        onToggle={toggle}
        testId={`${props.testId}-legend`}
      />
    </>
  );
}
