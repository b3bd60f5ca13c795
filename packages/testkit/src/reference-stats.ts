/**
 * Statistics computed independently of the code under test, so tests can check it against them:
 * Student's t distribution by numerical integration of its density (not the library's CDF).
 */

/** Two-sided p from the t density by Simpson's rule: independent of the library's t CDF. */
export function pTwoSided(t: number, df: number): number {
  const lgamma = (x: number): number => {
    // Lanczos approximation (g = 7, n = 9).
    const c = [
      0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
      12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
    ];
    if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
    x -= 1;
    let a = c[0]!;
    const tt = x + 7.5;
    for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
    return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(tt) - tt + Math.log(a);
  };
  const logC = lgamma((df + 1) / 2) - lgamma(df / 2) - 0.5 * Math.log(df * Math.PI);
  const pdf = (x: number) => Math.exp(logC - ((df + 1) / 2) * Math.log(1 + (x * x) / df));
  const n = 20_000;
  const a = 0;
  const b = Math.abs(t);
  const h = (b - a) / n;
  let s = pdf(a) + pdf(b);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * pdf(a + i * h);
  return 1 - 2 * ((s * h) / 3);
}

/** The paired t-test of a − b (two-sided), written out: t, df and p by `pTwoSided`. */
export function pairedTTest(a: readonly number[], b: readonly number[]): { t: number; df: number; p: number } {
  const d = a.map((x, i) => x - b[i]!);
  const n = d.length;
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const t = mean / (sd / Math.sqrt(n));
  return { t, df: n - 1, p: pTwoSided(t, n - 1) };
}
