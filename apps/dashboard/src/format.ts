/** A duration for a table cell: 840 ms, 12.3 s, 4 min 05 s. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** A metric value for a table cell: 4 decimals, scientific below 1e-3, '–' when there is none. */
export function metricText(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toFixed(digits);
}

/** The test split's name for a validation metric (val_acc → test_acc); null when there is none. */
export const testMetricOf = (metric: string) => (metric.startsWith('val_') ? `test_${metric.slice(4)}` : null);
