/**
 * The LR range test's answer (Smith 2017; fastai's lr_find): every seed ramped the rate over the
 * same steps, so their losses are averaged step by step (up to the shortest seed: each ends
 * where its loss diverged), smoothed (a centred moving average), and cut where the smoothed
 * loss passes 4× its minimum or where the trainer stopped a seed as diverged. Suggested base LRs: six log-spaced values from a third of the steepest descent's LR (the most negative
 * slope of the smoothed loss against log LR, before its minimum; or a tenth of the minimum's LR,
 * whichever is lower) up to the LR of the minimum, just below divergence. The margin below the
 * steepest point is there because a full run's best LR sits near it, often a little below: a
 * grid should have that best inside it, not at its edge.
 */
export interface RangeTestSeries {
  /** Per update, in step order: the rate applied and the training loss. */
  lr: readonly number[];
  loss: readonly (number | null)[];
  /** Where the trainer stopped it as diverged (its loss exploded), if it did. */
  divergedAtStep?: number | null;
}

export interface RangeTestAnswer {
  /** The curve (at most `maxPoints`, evenly spaced): LR, mean loss over seeds, smoothed loss. */
  points: { lr: number; loss: number; smoothed: number }[];
  suggested: { baseLr: number[] };
  /** Where the smoothed loss fell fastest, where it was lowest, where it diverged (null: it never did). */
  steepestLr: number;
  minLossLr: number;
  divergedAtLr: number | null;
  seeds: number;
}

const DIVERGE = 4;

/** Two significant digits: a grid people can read. */
const round2 = (x: number) => Number(x.toPrecision(2));

export function rangeTestAnswer(series: readonly RangeTestSeries[], maxPoints = 200): RangeTestAnswer | null {
  const usable = series.filter((s) => s.lr.length > 0);
  if (!usable.length) return null;
  const n = Math.min(...usable.map((s) => s.lr.length));
  const lr: number[] = [];
  const mean: number[] = [];
  for (let i = 0; i < n; i++) {
    const ls = usable.map((s) => s.loss[i]).filter((v): v is number => v !== null && Number.isFinite(v));
    if (!ls.length) break;
    lr.push(usable[0]!.lr[i]!);
    mean.push(ls.reduce((a, b) => a + b, 0) / ls.length);
  }
  if (lr.length < 3) return null;
  // A centred moving average (no lag: an exponential one shifts the low and the steepest fall to
  // higher rates, by as much as a decade on a 200-update ramp), its window ~4% of the ramp.
  const half = Math.max(2, Math.round(mean.length / 50));
  const smoothed: number[] = [];
  let best = Infinity;
  let bestAt = 0;
  let divergedAt: number | null = null;
  for (let i = 0; i < mean.length; i++) {
    const lo = Math.max(0, i - half);
    const hi = Math.min(mean.length - 1, i + half);
    let sum = 0;
    for (let k = lo; k <= hi; k++) sum += mean[k]!;
    const s = sum / (hi - lo + 1);
    smoothed.push(s);
    if (s < best) {
      best = s;
      bestAt = i;
    }
    if (i > 0 && s > DIVERGE * best) {
      divergedAt = i;
      break;
    }
  }
  // The slope against log LR, by central differences, up to the minimum (skipping the first 5%).
  const from = Math.max(1, Math.floor(0.05 * smoothed.length));
  let steepest = from;
  let slope = Infinity;
  for (let i = from; i < Math.max(from + 1, bestAt); i++) {
    if (i + 1 >= smoothed.length) break;
    const d = (smoothed[i + 1]! - smoothed[i - 1]!) / (Math.log(lr[i + 1]!) - Math.log(lr[i - 1]!));
    if (d < slope) {
      slope = d;
      steepest = i;
    }
  }
  const minLossLr = lr[bestAt]!;
  const steepestLr = lr[Math.min(steepest, bestAt)]!;
  const lo = Math.min(steepestLr, minLossLr / 10) / 3;
  const hi = minLossLr;
  const baseLr = [...new Set(Array.from({ length: 6 }, (_, k) => round2(lo * (hi / lo) ** (k / 5))))];
  const kept = smoothed.length;
  const stride = Math.max(1, Math.ceil(kept / maxPoints));
  const points: RangeTestAnswer['points'] = [];
  for (let i = 0; i < kept; i += stride) points.push({ lr: lr[i]!, loss: mean[i]!, smoothed: smoothed[i]! });
  if ((kept - 1) % stride !== 0)
    points.push({ lr: lr[kept - 1]!, loss: mean[kept - 1]!, smoothed: smoothed[kept - 1]! });
  // Divergence: where the smoothed loss passed 4× its low, or else where the trainer stopped a seed.
  const stopped = usable.map((s) => s.divergedAtStep).filter((v): v is number => typeof v === 'number');
  const trainerStop = stopped.length ? Math.min(...stopped) : null;
  const divergedAtLr =
    divergedAt !== null
      ? lr[divergedAt]!
      : trainerStop !== null
        ? usable[0]!.lr[Math.min(trainerStop, usable[0]!.lr.length - 1)]!
        : null;
  return { points, suggested: { baseLr }, steepestLr, minLossLr, divergedAtLr, seeds: usable.length };
}
