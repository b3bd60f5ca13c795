// Summaries the benchmarks print.

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The p-th percentile (0–100): the value at index ⌊p/100 · n⌋ of the sorted sample. */
export const percentile = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

/** This process's CPU time so far (user + system, all threads), in seconds. */
export const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** A median with its spread (min–max and the interquartile range, as the other benches take it), as the tables print it. */
export function spread(xs: number[]) {
  return {
    median: median(xs),
    min: Math.min(...xs),
    max: Math.max(...xs),
    p25: percentile(xs, 25),
    p75: percentile(xs, 75),
    n: xs.length,
  };
}
