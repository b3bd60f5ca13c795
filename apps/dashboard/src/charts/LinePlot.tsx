import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import { tickLabel } from './scales';

export interface PlotSeries {
  label: string;
  x: number[];
  y: (number | null)[];
  /** The band drawn around the line (already clamped to the metric's range). */
  lo?: (number | null)[];
  hi?: (number | null)[];
  /** Its colour (the schedule's) and dash (the base LR's, when a schedule has several). */
  color: string;
  dash?: number[];
}

/** A point that has no value (every seed diverged): drawn as a marker at the worst edge. */
export interface PlotMarker {
  label: string;
  x: number;
  color: string;
}

/** All series on the union of their x values (gaps where one has no point). */
function align(series: PlotSeries[], markerXs: number[]) {
  const xs = [...new Set([...series.flatMap((s) => s.x), ...markerXs])].sort((a, b) => a - b);
  const at = (s: PlotSeries, ys: (number | null)[] | undefined) => {
    const m = new Map(s.x.map((x, i) => [x, ys?.[i] ?? null]));
    return xs.map((x) => m.get(x) ?? null);
  };
  const data: (number | null)[][] = [xs];
  for (const s of series) data.push(at(s, s.y), at(s, s.hi), at(s, s.lo));
  return data;
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

const onLog = (v: number | null, log: boolean) => (v === null || (log && v <= 0) ? null : v);

/**
 * A dense line chart (uPlot: canvas, thousands of points per series without strain) with bands,
 * a hover readout of every series at the cursor, a legend whose entries toggle their series,
 * scientific tick labels, optional log axes and diverged markers at the worst edge.
 *
 * What it draws is readable from the DOM for tests and scripts: `data-series` (label, colour,
 * points plotted, the band's extent, hidden), `data-xticks`/`data-yticks` (the labels drawn),
 * `data-markers`, and the readout's `data-readout` (x and each series' value at the cursor).
 */
export function LinePlot(props: {
  series: PlotSeries[];
  markers?: PlotMarker[];
  /** Where a diverged marker goes: the worst edge for the metric (top when lower is better). */
  worst?: 'top' | 'bottom';
  logX?: boolean;
  logY?: boolean;
  xLabel: string;
  yLabel: string;
  height?: number;
  testId: string;
}) {
  const el = useRef<HTMLDivElement>(null);
  const readout = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const hiddenRef = useRef(hidden);
  hiddenRef.current = hidden;
  const dark = useColorScheme();
  const markers = props.markers ?? [];

  useEffect(() => {
    const node = el.current;
    if (!node || props.series.length === 0) return;
    const logY = Boolean(props.logY);
    const series0 = props.series.map((s) => ({
      ...s,
      y: s.y.map((v) => onLog(v, logY)),
      lo: s.lo?.map((v) => onLog(v, logY)),
      hi: s.hi?.map((v) => onLog(v, logY)),
    }));
    const data = align(
      series0,
      markers.map((m) => m.x),
    );
    // Diverged markers sit at the worst edge of what is plotted.
    const finite = data
      .slice(1)
      .flat()
      .filter((v): v is number => v !== null && Number.isFinite(v));
    const edge = finite.length ? (props.worst === 'bottom' ? Math.min(...finite) : Math.max(...finite)) : 1;
    const markerSeries = [...new Set(markers.map((m) => m.label))].map((label) => {
      const mine = markers.filter((m) => m.label === label);
      return { label, color: mine[0]!.color, y: data[0]!.map((x) => (mine.some((m) => m.x === x) ? edge : null)) };
    });
    for (const m of markerSeries) data.push(m.y);

    const fg = cssVar('--fg', dark ? '#e5e7eb' : '#111827');
    const grid = cssVar('--grid', dark ? '#374151' : '#e5e7eb');
    const series: uPlot.Series[] = [{ label: props.xLabel }];
    const bands: uPlot.Band[] = [];
    series0.forEach((s) => {
      const base = series.length;
      series.push({
        label: s.label,
        stroke: s.color,
        width: 2,
        dash: s.dash,
        spanGaps: true,
        points: { show: s.x.length < 40, size: 5 },
      });
      series.push({ label: `${s.label} (band hi)`, stroke: 'transparent', spanGaps: true, points: { show: false } });
      series.push({ label: `${s.label} (band lo)`, stroke: 'transparent', spanGaps: true, points: { show: false } });
      if (s.lo && s.hi) bands.push({ series: [base + 1, base + 2], fill: `${s.color}26` });
    });
    for (const m of markerSeries) {
      series.push({
        label: `${m.label} (diverged)`,
        stroke: m.color,
        width: 0,
        paths: () => null,
        points: { show: true, size: 11, fill: m.color, stroke: m.color },
      });
    }
    const ticks: Record<'x' | 'y', string[]> = { x: [], y: [] };
    const axis = (which: 'x' | 'y', label: string): uPlot.Axis => ({
      label,
      stroke: fg,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      size: which === 'y' ? 64 : 48,
      values: (_u, splits) => {
        const labels = splits.map((v) => tickLabel(v));
        ticks[which] = labels;
        node.dataset[`${which}ticks`] = JSON.stringify(labels.filter(Boolean));
        return labels;
      },
    });
    const describe = (u: uPlot) => {
      const idx = u.cursor.idx;
      const box = readout.current;
      if (!box) return;
      if (idx === null || idx === undefined) {
        box.textContent = 'hover over the chart for values';
        delete box.dataset.readout;
        return;
      }
      const x = u.data[0]![idx]!;
      const values = series0
        .map((s, i) => ({
          label: s.label,
          y: u.data[1 + 3 * i]![idx] ?? null,
          hi: u.data[2 + 3 * i]![idx] ?? null,
          lo: u.data[3 + 3 * i]![idx] ?? null,
        }))
        .filter((v) => v.y !== null && !hiddenRef.current.has(v.label));
      const diverged = markers.filter((m) => m.x === x).map((m) => m.label);
      box.dataset.readout = JSON.stringify({ x, values, diverged });
      box.textContent =
        `${props.xLabel} ${tickLabel(x)}: ` +
        [
          ...values.map(
            (v) =>
              `${v.label} ${tickLabel(v.y)}${v.lo !== null && v.hi !== null ? ` [${tickLabel(v.lo)}, ${tickLabel(v.hi)}]` : ''}`,
          ),
          ...diverged.map((l) => `${l} diverged`),
        ].join(' · ');
    };
    const plot = new uPlot(
      {
        width: Math.max(320, node.clientWidth),
        height: props.height ?? 260,
        scales: { x: { time: false, distr: props.logX ? 3 : 1 }, y: { distr: logY ? 3 : 1 } },
        series,
        bands,
        // Our legend below lists the real series only (uPlot's would list the band helpers too).
        legend: { show: false },
        axes: [axis('x', props.xLabel), axis('y', props.yLabel)],
        cursor: { drag: { x: true, y: false } },
        hooks: { setCursor: [describe] },
      },
      data as uPlot.AlignedData,
      node,
    );
    plotRef.current = plot;
    // Series the user hid stay hidden when new data arrives.
    series0.forEach((s, i) => {
      if (hiddenRef.current.has(s.label)) for (const k of [1, 2, 3]) plot.setSeries(3 * i + k, { show: false });
    });
    const extent = (arr: (number | null)[]) => {
      const v = arr.filter((x): x is number => x !== null && x !== undefined);
      return v.length ? [Math.min(...v), Math.max(...v)] : null;
    };
    node.dataset.series = JSON.stringify(
      series0.map((s, i) => {
        const lo = extent(plot.data[3 + 3 * i] as (number | null)[]);
        const hi = extent(plot.data[2 + 3 * i] as (number | null)[]);
        return {
          label: s.label,
          color: s.color,
          points: (plot.data[1 + 3 * i] ?? []).filter((v) => v !== null && v !== undefined).length,
          band: lo && hi ? [lo[0], hi[1]] : null,
        };
      }),
    );
    node.dataset.markers = JSON.stringify(markers.map((m) => ({ label: m.label, x: m.x, y: edge })));
    const onResize = () => plot.setSize({ width: Math.max(320, node.clientWidth), height: props.height ?? 260 });
    addEventListener('resize', onResize);
    describe(plot);
    return () => {
      removeEventListener('resize', onResize);
      plot.destroy();
      plotRef.current = null;
      delete node.dataset.series;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [
    props.series,
    props.markers,
    props.logX,
    props.logY,
    props.xLabel,
    props.yLabel,
    props.height,
    props.worst,
    dark,
  ]);

  const toggle = (label: string) => {
    const next = new Set(hidden);
    if (next.has(label)) next.delete(label);
    else next.add(label);
    setHidden(next);
    const i = props.series.findIndex((s) => s.label === label);
    const plot = plotRef.current;
    if (plot && i >= 0) for (const k of [1, 2, 3]) plot.setSeries(3 * i + k, { show: !next.has(label) });
  };

  if (props.series.length === 0) return <p className="empty">No completed trials to plot yet.</p>;
  return (
    <>
      <div className="plot" ref={el} data-testid={props.testId} />
      <div className="readout muted" ref={readout} data-testid={`${props.testId}-readout`} aria-live="polite" />
      <ul className="legend" data-testid={`${props.testId}-legend`}>
        {props.series.map((s, i) => (
          // Labels may repeat (a trainer's axes the caller's label leaves out): the position keys it.
          // biome-ignore lint/suspicious/noArrayIndexKey: series are positional, their labels need not be unique
          <li key={`${i}-${s.label}`}>
            <button
              type="button"
              className={`legend-item${hidden.has(s.label) ? ' off' : ''}`}
              data-hidden={hidden.has(s.label)}
              onClick={() => toggle(s.label)}
              title="show or hide"
            >
              <svg width="20" height="10" aria-hidden="true">
                <line
                  x1="0"
                  y1="5"
                  x2="20"
                  y2="5"
                  stroke={s.color}
                  strokeWidth="3"
                  strokeDasharray={s.dash?.join(' ')}
                />
              </svg>
              {s.label}
            </button>
          </li>
        ))}
        {markers.length > 0 && <li className="muted">● at the edge: every seed diverged</li>}
      </ul>
    </>
  );
}
