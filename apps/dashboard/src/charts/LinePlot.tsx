import { useEffect, useRef } from 'react';
import uPlot from 'uplot';

export interface PlotSeries {
  label: string;
  x: number[];
  y: (number | null)[];
  /** A 95% band drawn around the line. */
  lo?: (number | null)[];
  hi?: (number | null)[];
}

const palette = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#be185d', '#4d7c0f', '#7c3aed', '#b45309'];

/** All series on the union of their x values (gaps where one has no point). */
function align(series: PlotSeries[]) {
  const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
  const at = (s: PlotSeries, ys: (number | null)[] | undefined) => {
    const m = new Map(s.x.map((x, i) => [x, ys?.[i] ?? null]));
    return xs.map((x) => m.get(x) ?? null);
  };
  const data: (number | null)[][] = [xs];
  for (const s of series) data.push(at(s, s.y), at(s, s.hi), at(s, s.lo));
  return data;
}

/**
 * A dense line chart (uPlot: canvas, thousands of points per series without strain) with optional
 * CI bands. The container carries `data-series`: each series' label and number of plotted points,
 * read back from the chart's own data.
 */
export function LinePlot(props: { series: PlotSeries[]; logX?: boolean; xLabel: string; yLabel: string; height?: number; testId: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const node = el.current;
    if (!node || props.series.length === 0) return;
    const data = align(props.series);
    const series: uPlot.Series[] = [{ label: props.xLabel }];
    const bands: uPlot.Band[] = [];
    props.series.forEach((s, i) => {
      const color = palette[i % palette.length]!;
      const base = series.length;
      series.push({ label: s.label, stroke: color, width: 2, spanGaps: true, points: { show: s.x.length < 40 } });
      series.push({ label: `${s.label} (95% hi)`, stroke: 'transparent', spanGaps: true, points: { show: false } });
      series.push({ label: `${s.label} (95% lo)`, stroke: 'transparent', spanGaps: true, points: { show: false } });
      if (s.lo && s.hi) bands.push({ series: [base + 1, base + 2], fill: `${color}22` });
    });
    const plot = new uPlot(
      {
        width: Math.max(320, node.clientWidth),
        height: props.height ?? 260,
        scales: { x: { time: false, distr: props.logX ? 3 : 1 } },
        series,
        bands,
        // uPlot's legend would list the band helpers too; ours lists the real series only.
        legend: { show: false },
        axes: [{ label: props.xLabel }, { label: props.yLabel, size: 60 }],
        cursor: { drag: { x: true, y: false } },
      },
      data as uPlot.AlignedData,
      node,
    );
    const plotted = props.series.map((s, i) => ({ label: s.label, points: (plot.data[1 + 3 * i] ?? []).filter((v) => v !== null && v !== undefined).length }));
    node.dataset.series = JSON.stringify(plotted);
    return () => {
      plot.destroy();
      delete node.dataset.series;
    };
  }, [props.series, props.logX, props.xLabel, props.yLabel, props.height]);
  if (props.series.length === 0) return <p className="empty">No completed trials to plot yet.</p>;
  return (
    <>
      <div className="plot" ref={el} data-testid={props.testId} />
      <ul className="legend">
        {props.series.map((s, i) => (
          <li key={s.label}>
            <span style={{ background: palette[i % palette.length] }} />
            {s.label}
          </li>
        ))}
      </ul>
    </>
  );
}
