/**
 * A transfer study's answer from a sweep's trials (#28): η* of each schedule at each scale (width,
 * horizon, or both), the law η* = a · scale^b across scales per schedule, the rankings of the
 * schedules at their own best LR at each scale, Kendall τ between the smallest and the largest
 * scale with a per-seed bootstrap interval, and a plain statement of whether the winner changes.
 * Pure: the API's transfer route, the CLI and the bench share it.
 */
import { trialLive } from '@lrsweep/contract';
import {
  estimateOptimum,
  fitTransferLaw,
  kendallTau,
  type LrPoint,
  type OptimumEstimate,
  seededRandom,
  type TransferLaw,
} from './transfer';

/** One trial: its configuration's schedule, base LR and scale values, its seed, and its end. */
export interface TransferTrial {
  scheduleKey: string;
  /** The schedule, described ("cosine, warmup 5%"). */
  schedule: string;
  lr: number;
  width: number | null;
  steps: number | null;
  seed: number;
  status: string;
  /** The objective (completed trials only). */
  value: number | null;
}

export type TransferAxis = 'width' | 'length';

export interface TransferOptions {
  mode: 'min' | 'max';
  width?: { baseWidth: number; target: number | null };
  length?: { target: number | null };
  parametrization: 'standard' | 'mup';
  replications?: number;
  seed?: number;
}

export interface GroupOptimum extends OptimumEstimate {
  schedule: string;
  scheduleKey: string;
  width: number | null;
  steps: number | null;
  /** The objective's mean over the usable seeds at the best grid point. */
  value: number | null;
  seeds: number;
}

export interface TransferRanking {
  axis: TransferAxis;
  scale: number;
  at: number | null;
  order: { schedule: string; scheduleKey: string; lr: number; value: number }[];
}

export interface TransferAnalysis {
  pending: number;
  optima: GroupOptimum[];
  laws: (Omit<TransferLaw, 'warnings'> & {
    schedule: string;
    scheduleKey: string;
    axis: TransferAxis;
    at: number | null;
    warnings: string[];
  })[];
  rankings: TransferRanking[];
  tau: { axis: TransferAxis; from: number; to: number; tau: number | null; interval: [number, number] | null } | null;
  winner: { flips: boolean; statement: string } | null;
  warnings: string[];
}

/** Appends to a map of lists (in place: a group of thousands of trials stays linear). */
function push<T>(m: Map<string, T[]>, k: string, v: T) {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** A group of one schedule at one width and horizon: its LRs, each with the objective of every seed. */
interface Group {
  scheduleKey: string;
  schedule: string;
  width: number | null;
  steps: number | null;
  lrs: number[];
  /** Seeds finished (completed or diverged) at every LR of the group, ascending. */
  seeds: number[];
  /** lr index → seed index → value (null: diverged). */
  values: (number | null)[][];
}

function groupsOf(trials: readonly TransferTrial[]): Group[] {
  const byKey = new Map<string, TransferTrial[]>();
  for (const t of trials) {
    const k = JSON.stringify([t.scheduleKey, t.width, t.steps]);
    push(byKey, k, t);
  }
  const out: Group[] = [];
  for (const ts of byKey.values()) {
    const lrs = [...new Set(ts.map((t) => t.lr))].sort((a, b) => a - b);
    const allSeeds = [...new Set(ts.map((t) => t.seed))].sort((a, b) => a - b);
    const at = new Map(ts.map((t) => [`${t.lr}|${t.seed}`, t]));
    const finished = (t: TransferTrial | undefined) =>
      t !== undefined && ((t.status === 'completed' && t.value !== null) || t.status === 'diverged');
    const seeds = allSeeds.filter((s) => lrs.every((lr) => finished(at.get(`${lr}|${s}`))));
    const values = lrs.map((lr) =>
      seeds.map((s) => {
        const t = at.get(`${lr}|${s}`)!;
        return t.status === 'completed' ? t.value : null;
      }),
    );
    const first = ts[0]!;
    out.push({
      scheduleKey: first.scheduleKey,
      schedule: first.schedule,
      width: first.width,
      steps: first.steps,
      lrs,
      seeds,
      values,
    });
  }
  return out;
}

/** The best grid point's mean (over the seeds `use` picks): the value a schedule ranks by at a scale. */
function bestMean(g: Group, use: readonly number[], sign: number): { lr: number; value: number } | null {
  let best: { lr: number; value: number } | null = null;
  g.lrs.forEach((lr, i) => {
    let sum = 0;
    for (const s of use) {
      const v = g.values[i]![s];
      if (v === null || v === undefined) return;
      sum += v;
    }
    const mean = sum / use.length;
    if (best === null || sign * mean < sign * best.value) best = { lr, value: mean };
  });
  return best;
}

/** log10 of the base-LR grid's typical step (the median ratio of neighbouring LRs). */
function gridStepDecades(trials: readonly TransferTrial[]): number | undefined {
  const lrs = [...new Set(trials.map((t) => t.lr))].sort((a, b) => a - b);
  const steps = lrs.slice(1).map((lr, i) => Math.log10(lr / lrs[i]!));
  if (!steps.length) return undefined;
  steps.sort((a, b) => a - b);
  return steps[Math.floor(steps.length / 2)];
}

const fmt = (x: number) => String(Number(x.toPrecision(3)));

/** "a", "a and b", "a, b and c". */
const list = (xs: readonly string[]) =>
  xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;

export function analyzeTransfer(trials: readonly TransferTrial[], o: TransferOptions): TransferAnalysis {
  const sign = o.mode === 'max' ? -1 : 1;
  const warnings: string[] = [];
  const pending = trials.filter((t) => trialLive(t.status)).length;
  if (pending) warnings.push(`${pending} trials have not finished: the estimates are over the finished ones`);
  const groups = groupsOf(trials).filter((g) => g.seeds.length > 0);
  // The bootstrap's cost grows with the groups: a budget of fits keeps a huge sweep's answer (and
  // the API's event loop) to a bounded time, with at least 20 replications a group.
  const replications = o.replications ?? Math.max(20, Math.min(400, Math.floor(100_000 / Math.max(1, groups.length))));
  const optima: GroupOptimum[] = [];
  for (const g of groups) {
    const points: LrPoint[] = g.lrs.map((lr, i) => ({ lr, values: g.values[i]! }));
    const est = estimateOptimum(points, { mode: o.mode, replications, seed: o.seed ?? 1 });
    if (!est) continue;
    const best = bestMean(
      g,
      g.seeds.map((_, i) => i),
      sign,
    );
    optima.push({
      ...est,
      schedule: g.schedule,
      scheduleKey: g.scheduleKey,
      width: g.width,
      steps: g.steps,
      value: best?.value ?? null,
      seeds: g.seeds.length,
    });
  }
  const axes: TransferAxis[] = [...(o.width ? (['width'] as const) : []), ...(o.length ? (['length'] as const) : [])];
  const scaleOf = (axis: TransferAxis, g: { width: number | null; steps: number | null }) =>
    axis === 'width' ? (g.width ?? 0) / (o.width?.baseWidth ?? 1) : (g.steps ?? 0);
  const atOf = (axis: TransferAxis, g: { width: number | null; steps: number | null }) =>
    axis === 'width' ? (o.length ? g.steps : null) : o.width ? g.width : null;
  const step = gridStepDecades(trials);

  const laws: TransferAnalysis['laws'] = [];
  const rankings: TransferRanking[] = [];
  for (const axis of axes) {
    const target =
      axis === 'width'
        ? o.width?.target != null
          ? o.width.target / o.width.baseWidth
          : undefined
        : (o.length?.target ?? undefined);
    const series = new Map<string, GroupOptimum[]>();
    for (const p of optima) {
      const k = JSON.stringify([p.scheduleKey, atOf(axis, p)]);
      push(series, k, p);
    }
    for (const ps of series.values()) {
      const first = ps[0]!;
      const at = atOf(axis, first);
      const where = `${first.schedule}${at !== null ? ` at ${axis === 'width' ? `T=${at}` : `width ${fmt(at)}`}` : ''}`;
      if (ps.length < 3) {
        warnings.push(`${where}: ${ps.length} ${axis === 'width' ? 'widths' : 'horizons'} measured; a law needs 3`);
        continue;
      }
      const law = fitTransferLaw(
        ps.map((p) => ({ scale: scaleOf(axis, p), lr: p.lr })),
        {
          ...(target !== undefined ? { target } : {}),
          ...(step !== undefined ? { gridStepDecades: step } : {}),
          mup: axis === 'width' && o.parametrization === 'mup',
        },
      );
      if (!law) continue;
      const leaning = ps.filter((p) => p.flags.includes('edge') || p.censored).map((p) => fmt(scaleOf(axis, p)));
      const own = [...law.warnings];
      if (leaning.length)
        own.push(
          `η* at scale ${list(leaning)} is at the grid's edge or censored by a diverged LR: the law leans on a bound there; widen the LR grid`,
        );
      laws.push({ ...law, schedule: first.schedule, scheduleKey: first.scheduleKey, axis, at, warnings: own });
      for (const w of own) warnings.push(`${where}: ${w}`);
    }
    // Each scale's ranking of the schedules, each at its own best grid LR.
    const byScale = new Map<string, GroupOptimum[]>();
    for (const p of optima) {
      if (p.value === null) continue;
      const k = JSON.stringify([scaleOf(axis, p), atOf(axis, p)]);
      push(byScale, k, p);
    }
    for (const ps of byScale.values()) {
      const order = [...ps]
        .sort((a, b) => sign * (a.value! - b.value!))
        .map((p) => ({ schedule: p.schedule, scheduleKey: p.scheduleKey, lr: p.gridBest, value: p.value! }));
      rankings.push({ axis, scale: scaleOf(axis, ps[0]!), at: atOf(axis, ps[0]!), order });
    }
  }
  rankings.sort((a, b) => a.axis.localeCompare(b.axis) || (a.at ?? 0) - (b.at ?? 0) || a.scale - b.scale);

  // τ and the winner along the first marked axis, at its first value of the other axis.
  const axis = axes[0];
  let tau: TransferAnalysis['tau'] = null;
  let winner: TransferAnalysis['winner'] = null;
  if (axis) {
    const along = rankings.filter((r) => r.axis === axis);
    const at = along[0]?.at ?? null;
    const line = along.filter((r) => r.at === at);
    if (line.length >= 2) {
      const [lo, hi] = [line[0]!, line[line.length - 1]!];
      const common = lo.order.map((x) => x.scheduleKey).filter((k) => hi.order.some((y) => y.scheduleKey === k));
      if (common.length >= 3) {
        const rankOf = (r: TransferRanking) => common.map((k) => r.order.findIndex((x) => x.scheduleKey === k));
        const point = kendallTau(rankOf(lo), rankOf(hi));
        // A per-seed bootstrap: the seeds resampled whole, the rankings at both scales redone.
        const index = new Map(groups.map((g) => [JSON.stringify([g.scheduleKey, scaleOf(axis, g), atOf(axis, g)]), g]));
        const groupAt = (scale: number, key: string) => index.get(JSON.stringify([key, scale, at]));
        const involved = [lo.scale, hi.scale].flatMap((sc) => common.map((k) => groupAt(sc, k)));
        // Seeds every involved group finished: each replication resamples these seeds whole.
        const shared = (involved[0]?.seeds ?? []).filter((sd) => involved.every((g) => g?.seeds.includes(sd)));
        const draw = seededRandom((o.seed ?? 1) + 7);
        const taus: number[] = [];
        for (let r = 0; r < replications && shared.length > 0 && involved.every(Boolean); r++) {
          const pick = shared.map(() => shared[Math.floor(draw() * shared.length)]!);
          const values = (scale: number) =>
            common.map((key) => {
              const g = groupAt(scale, key)!;
              return bestMean(
                g,
                pick.map((sd) => g.seeds.indexOf(sd)),
                sign,
              )?.value;
            });
          const [a, b] = [values(lo.scale), values(hi.scale)];
          if (a.some((v) => v === undefined) || b.some((v) => v === undefined)) continue;
          const t = kendallTau(
            a.map((v) => sign * v!),
            b.map((v) => sign * v!),
          );
          if (t !== null) taus.push(t);
        }
        taus.sort((x, y) => x - y);
        const q = (p: number) => taus[Math.min(taus.length - 1, Math.floor(p * taus.length))]!;
        tau = {
          axis,
          from: lo.scale,
          to: hi.scale,
          tau: point,
          interval: taus.length >= 20 ? [q(0.025), q(0.975)] : null,
        };
      }
      winner = winnerStatement(axis, line, o.width?.baseWidth ?? 1);
    }
  }
  return { pending, optima, laws, rankings, tau, winner, warnings };
}

/** Whether the best schedule is the same at every scale of `line` (ascending), said plainly. */
function winnerStatement(
  axis: TransferAxis,
  line: readonly TransferRanking[],
  baseWidth: number,
): { flips: boolean; statement: string } | null {
  const ranked = line.filter((r) => r.order.length >= 2);
  if (ranked.length < 2) return null;
  const word = axis === 'width' ? 'width' : 'horizon';
  const label = (r: TransferRanking) => (axis === 'width' ? fmt(r.scale * baseWidth) : `T=${fmt(r.scale)}`);
  const winners = ranked.map((r) => r.order[0]!);
  const same = winners.every((w) => w.scheduleKey === winners[0]!.scheduleKey);
  if (same) {
    const w = winners[0]!;
    const others = [...new Set(ranked.flatMap((r) => r.order.slice(1).map((x) => x.schedule)))];
    const gap = (r: TransferRanking) => Math.abs(r.order[1]!.value - r.order[0]!.value);
    const [g0, g1] = [gap(ranked[0]!), gap(ranked[ranked.length - 1]!)];
    const trend =
      g0 === 0 || g1 / g0 > 1.25
        ? `the gap grows with ${word}`
        : g1 / g0 < 0.8
          ? `the gap shrinks with ${word}`
          : `the gap stays about the same`;
    return {
      flips: false,
      statement: `${w.schedule} beats ${list(others)} at every ${word} (${list(ranked.map(label))}); ${trend}.`,
    };
  }
  const runs: { schedule: string; at: string[] }[] = [];
  ranked.forEach((r, i) => {
    const w = winners[i]!;
    const last = runs[runs.length - 1];
    if (last && last.schedule === w.schedule) last.at.push(label(r));
    else runs.push({ schedule: w.schedule, at: [label(r)] });
  });
  return {
    flips: true,
    statement: `The winner changes with ${word}: ${runs.map((r) => `${r.schedule} at ${list(r.at)}`).join('; ')}.`,
  };
}
