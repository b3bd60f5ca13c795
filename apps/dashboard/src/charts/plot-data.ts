// What a LinePlot draws, as uPlot wants it: the series on one x axis, the diverged markers at the
// worst edge, the series and band options, and what the DOM says of it for tests and scripts.
import type uPlot from 'uplot';
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

const onLog = (v: number | null, log: boolean) => (v === null || (log && v <= 0) ? null : v);

/**
 * The plotted data: per series its line and band (values a log axis cannot show dropped), then a
 * series per diverged label with a point at the worst edge of what is plotted (`worst`: the top
 * when lower is better) where it diverged.
 */
export function plotData(series: PlotSeries[], markers: PlotMarker[], logY: boolean, worst?: 'top' | 'bottom') {
  const lines = series.map((s) => ({
    ...s,
    y: s.y.map((v) => onLog(v, logY)),
    lo: s.lo?.map((v) => onLog(v, logY)),
    hi: s.hi?.map((v) => onLog(v, logY)),
  }));
  const data = align(
    lines,
    markers.map((m) => m.x),
  );
  const finite = data
    .slice(1)
    .flat()
    .filter((v): v is number => v !== null && Number.isFinite(v));
  const edge = finite.length ? (worst === 'bottom' ? Math.min(...finite) : Math.max(...finite)) : 1;
  const markerSeries = [...new Set(markers.map((m) => m.label))].map((label) => {
    const mine = markers.filter((m) => m.label === label);
    return { label, color: mine[0]!.color, y: data[0]!.map((x) => (mine.some((m) => m.x === x) ? edge : null)) };
  });
  for (const m of markerSeries) data.push(m.y);
  return { lines, data, edge, markerSeries };
}
export type PlotData = ReturnType<typeof plotData>;

/** uPlot's series (each line with two hidden band helpers, then the markers) and the bands between helpers. */
export function uplotSeries({ lines, markerSeries }: PlotData, xLabel: string) {
  const series: uPlot.Series[] = [{ label: xLabel }];
  const bands: uPlot.Band[] = [];
  for (const s of lines) {
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
  }
  for (const m of markerSeries) {
    series.push({
      label: `${m.label} (diverged)`,
      stroke: m.color,
      width: 0,
      paths: () => null,
      points: { show: true, size: 11, fill: m.color, stroke: m.color },
    });
  }
  return { series, bands };
}

/** An axis with scientific tick labels, which it also writes to `node`'s data-xticks / data-yticks. */
export function axisOf(
  which: 'x' | 'y',
  label: string,
  colors: { fg: string; grid: string },
  node: HTMLElement,
): uPlot.Axis {
  return {
    label,
    stroke: colors.fg,
    grid: { stroke: colors.grid, width: 1 },
    ticks: { stroke: colors.grid, width: 1 },
    size: which === 'y' ? 64 : 48,
    values: (_u, splits) => {
      const labels = splits.map((v) => tickLabel(v));
      node.dataset[`${which}ticks`] = JSON.stringify(labels.filter(Boolean));
      return labels;
    },
  };
}

/** The readout at the cursor: x, each shown series' value and band, and what diverged there (text and data-readout). */
export function describeCursor(
  u: uPlot,
  box: HTMLElement,
  p: { lines: PlotSeries[]; markers: PlotMarker[]; hidden: Set<string>; xLabel: string },
) {
  const idx = u.cursor.idx;
  if (idx === null || idx === undefined) {
    box.textContent = 'hover over the chart for values';
    delete box.dataset.readout;
    return;
  }
  const x = u.data[0]![idx]!;
  const values = p.lines
    .map((s, i) => ({
      label: s.label,
      y: u.data[1 + 3 * i]![idx] ?? null,
      hi: u.data[2 + 3 * i]![idx] ?? null,
      lo: u.data[3 + 3 * i]![idx] ?? null,
    }))
    .filter((v) => v.y !== null && !p.hidden.has(v.label));
  const diverged = p.markers.filter((m) => m.x === x).map((m) => m.label);
  box.dataset.readout = JSON.stringify({ x, values, diverged });
  box.textContent =
    `${p.xLabel} ${tickLabel(x)}: ` +
    [
      ...values.map(
        (v) =>
          `${v.label} ${tickLabel(v.y)}${v.lo !== null && v.hi !== null ? ` [${tickLabel(v.lo)}, ${tickLabel(v.hi)}]` : ''}`,
      ),
      ...diverged.map((l) => `${l} diverged`),
    ].join(' · ');
}

/** What `data-series` says of a drawn plot: each line's label, colour, points plotted and band extent. */
export function describeSeries(plot: uPlot, lines: PlotSeries[]) {
  const extent = (arr: (number | null)[]) => {
    const v = arr.filter((x): x is number => x !== null && x !== undefined);
    return v.length ? [Math.min(...v), Math.max(...v)] : null;
  };
  return lines.map((s, i) => {
    const lo = extent(plot.data[3 + 3 * i] as (number | null)[]);
    const hi = extent(plot.data[2 + 3 * i] as (number | null)[]);
    return {
      label: s.label,
      color: s.color,
      points: (plot.data[1 + 3 * i] ?? []).filter((v) => v !== null && v !== undefined).length,
      band: lo && hi ? [lo[0], hi[1]] : null,
    };
  });
}
