/** A small seeded PRNG (mulberry32): the same seed gives the same stream on every platform. */
export function createRng(seed: number) {
  let s = seed >>> 0 || 0x9e3779b9;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** The generator's whole state, to resume the same stream later. */
    state: (): number => s,
    setState(v: number) {
      s = v >>> 0;
    },
    /** Standard normal (Box–Muller). */
    normal(): number {
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    /** A uniformly random permutation of `0 … n−1` (Fisher–Yates). */
    permutation(n: number): Int32Array {
      const p = new Int32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const tmp = p[i]!;
        p[i] = p[j]!;
        p[j] = tmp;
      }
      return p;
    },
  };
}
export type Rng = ReturnType<typeof createRng>;
