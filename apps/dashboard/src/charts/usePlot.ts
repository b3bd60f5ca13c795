// The uPlot instance behind a LinePlot: built when its data or options change, resized with the
// window, redrawn in the colour scheme's colours, with the series the user hid kept hidden.
import { type RefObject, useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import {
  axisOf,
  describeCursor,
  describeSeries,
  type PlotMarker,
  type PlotSeries,
  plotData,
  uplotSeries,
} from './plot-data';

export interface PlotOptions {
  series: PlotSeries[];
  markers: PlotMarker[];
  /** Where a diverged marker goes: the worst edge for the metric (top when lower is better). */
  worst?: 'top' | 'bottom';
  logX?: boolean;
  logY?: boolean;
  xLabel: string;
  yLabel: string;
  height?: number;
}

const cssVar = (name: string, fallback: string) =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

/** Re-renders when the colour scheme changes, so the axes follow dark mode. */
function useColorScheme() {
  const [dark, setDark] = useState(() => matchMedia('(prefers-color-scheme: dark)').matches);
  useEffect(() => {
    const q = matchMedia('(prefers-color-scheme: dark)');
    const on = () => setDark(q.matches);
    q.addEventListener('change', on);
    return () => q.removeEventListener('change', on);
  }, []);
  return dark;
}

/**
 * Draws `o` into the element `el` returns, with the cursor's readout in `readout`; `hidden` is read
 * whenever the plot is rebuilt or the cursor moves. `plot` is the live instance (null before).
 */
export function usePlot(o: PlotOptions, hidden: RefObject<Set<string>>) {
  const el = useRef<HTMLDivElement>(null);
  const readout = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dark = useColorScheme();
  // Rebuilt on what is drawn; `hidden` is read through its ref (a toggle redraws nothing).
  useEffect(() => {
    const node = el.current;
    if (!node || o.series.length === 0) return;
    const logY = Boolean(o.logY);
    const drawn = plotData(o.series, o.markers, logY, o.worst);
    const colors = {
      fg: cssVar('--fg', dark ? '#e5e7eb' : '#111827'),
      grid: cssVar('--grid', dark ? '#374151' : '#e5e7eb'),
    };
    const describe = (u: uPlot) => {
      if (readout.current)
        describeCursor(u, readout.current, {
          lines: drawn.lines,
          markers: o.markers,
          hidden: hidden.current,
          xLabel: o.xLabel,
        });
    };
    const { series, bands } = uplotSeries(drawn, o.xLabel);
    const p = new uPlot(
      {
        width: Math.max(320, node.clientWidth),
        height: o.height ?? 260,
        scales: { x: { time: false, distr: o.logX ? 3 : 1 }, y: { distr: logY ? 3 : 1 } },
        series,
        bands,
        // Our legend below lists the real series only (uPlot's would list the band helpers too).
        legend: { show: false },
        axes: [axisOf('x', o.xLabel, colors, node), axisOf('y', o.yLabel, colors, node)],
        cursor: { drag: { x: true, y: false } },
        hooks: { setCursor: [describe] },
      },
      drawn.data as uPlot.AlignedData,
      node,
    );
    plot.current = p;
    // Series the user hid stay hidden when new data arrives.
    drawn.lines.forEach((s, i) => {
      if (hidden.current.has(s.label)) for (const k of [1, 2, 3]) p.setSeries(3 * i + k, { show: false });
    });
    node.dataset.series = JSON.stringify(describeSeries(p, drawn.lines));
    node.dataset.markers = JSON.stringify(o.markers.map((m) => ({ label: m.label, x: m.x, y: drawn.edge })));
    const onResize = () => p.setSize({ width: Math.max(320, node.clientWidth), height: o.height ?? 260 });
    addEventListener('resize', onResize);
    describe(p);
    return () => {
      removeEventListener('resize', onResize);
      p.destroy();
      plot.current = null;
      delete node.dataset.series;
    };
  }, [o.series, o.markers, o.logX, o.logY, o.xLabel, o.yLabel, o.height, o.worst, dark]);
  return { el, readout, plot };
}
