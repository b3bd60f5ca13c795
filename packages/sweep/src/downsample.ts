import { LTTB } from 'downsample';

/**
 * Reduces a series to at most `maxPoints` points with Largest-Triangle-Three-Buckets (the
 * `downsample` package), which keeps the curve's shape and returns points of the series itself:
 * every kept value is exact. First and last points are always kept.
 */
export function downsampleSeries(
  xs: readonly number[],
  ys: readonly number[],
  maxPoints: number,
): { x: number[]; y: number[] } {
  if (xs.length <= maxPoints) return { x: [...xs], y: [...ys] };
  const points = xs.map((x, i) => [x, ys[i]!] as [number, number]);
  const kept = LTTB(points, Math.max(3, maxPoints)) as [number, number][];
  return { x: kept.map((p) => p[0]), y: kept.map((p) => p[1]) };
}
