// The sweep page's plots as series: LR sensitivity per schedule, learning curves and applied LRs
// per followed configuration, one colour per schedule and one dash per base LR within it.
import type { Curves, MetricName, Results, ScheduleAnalysis } from '@lrsweep/client';
import { useMemo } from 'react';
import type { PlotMarker, PlotSeries } from '../../charts/LinePlot';
import { band, type BandKind, dashes, metricBounds, scheduleColors } from '../../charts/scales';

export function useScheduleColors(results: Results | undefined) {
  const scheduleOf = useMemo(
    () => new Map((results?.ranking ?? []).map((r) => [r.configId, r.scheduleKey])),
    [results],
  );
  const colorOf = useMemo(() => scheduleColors(scheduleOf.values()), [scheduleOf]);
  return { scheduleOf, colorOf };
}

/** Each schedule's metric at each base LR (a marker where every seed diverged). */
export function useSensitivity(
  analysis: ScheduleAnalysis | undefined,
  bandKind: BandKind,
  colorOf: (scheduleKey: string) => string,
  objective: MetricName,
) {
  return useMemo(() => {
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
}

/** The followed configurations' learning curves (with bands) and applied-LR curves. */
export function useCurveSeries(
  curves: Curves | undefined,
  bandKind: BandKind,
  metric: MetricName,
  scheduleOf: Map<string, string>,
  colorOf: (scheduleKey: string) => string,
) {
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
    const bounds = metricBounds(metric);
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
  }, [curves, bandKind, colorOf, scheduleOf, dashOf, metric]);
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
  const fewSeeds = (curves?.curves ?? []).some((c) => c.n.some((n) => n < 3));
  return { learning, lrs, fewSeeds };
}
