// What every chart shares: tick labels people can read, one colour per schedule, the bands a
// user can choose and the metric's own range they must stay in.

/** 1e-4, 2.5e-4, 0.01, 0.25, 12, 3e5 — never a small LR shown as "0". */
export function tickLabel(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) {
    const [m, e] = v.toExponential(2).split('e');
    return `${Number(m)}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(4)));
}

/** Colour-blind-friendly (Okabe–Ito, then Tableau), distinct on light and dark backgrounds. */
const palette = [
  '#0072b2',
  '#d55e00',
  '#009e73',
  '#cc79a7',
  '#e69f00',
  '#56b4e9',
  '#8c564b',
  '#7f7f7f',
  '#bcbd22',
  '#9467bd',
  '#17becf',
  '#f0e442',
];

/**
 * One colour per schedule, the same in every chart of the page: schedules are numbered in a fixed
 * order of their keys, so a reload or a different subset of configurations never recolours one.
 */
export function scheduleColors(keys: Iterable<string>): (key: string) => string {
  const sorted = [...new Set(keys)].sort();
  const index = new Map(sorted.map((k, i) => [k, i]));
  return (key) => palette[(index.get(key) ?? 0) % palette.length]!;
}

/** Dash patterns telling a schedule's base LRs apart (the colour is the schedule's). */
export const dashes: (number[] | undefined)[] = [undefined, [6, 4], [2, 3], [10, 3, 2, 3], [1, 6]];

/** The values a metric can take: bands are clamped to them. */
export function metricBounds(metric: string): [number, number] {
  if (metric.endsWith('_acc')) return [0, 1];
  if (metric.endsWith('_ppl')) return [1, Infinity];
  if (metric === 'lr' || metric.endsWith('_loss') || metric.endsWith('_rmse')) return [0, Infinity];
  return [-Infinity, Infinity];
}

export type BandKind = 'ci' | 'sem' | 'range';
export const bandLabels: Record<BandKind, string> = { ci: '95% CI', sem: '± 1 SEM', range: 'min–max of seeds' };

/** The band around one point, clamped to the metric's range; null when it cannot be drawn. */
export function band(
  kind: BandKind,
  p: { mean: number | null; ci95: [number, number] | null; sem: number | null; range: [number, number] | null },
  bounds: [number, number],
): [number, number] | null {
  if (p.mean === null) return null;
  const raw =
    kind === 'ci'
      ? p.ci95
      : kind === 'sem'
        ? p.sem === null
          ? null
          : ([p.mean - p.sem, p.mean + p.sem] as [number, number])
        : p.range;
  if (!raw) return null;
  return [Math.min(Math.max(raw[0], bounds[0]), bounds[1]), Math.min(Math.max(raw[1], bounds[0]), bounds[1])];
}
