import type { PrunedRow, RankingRow, ScheduleAnalysis, SweepDetail, SweepSummary } from '@lrsweep/client';
import type { RangeTestView, TransferAnswer } from '@lrsweep/contract';
import { describeSchedule } from '@lrsweep/schedules';
import type { ForkSummary } from '@lrsweep/sweep';
import { formatTable } from './table';

/** The ranking as a plain-text table. */
export function rankingTable(rows: readonly RankingRow[], metric: string): string {
  return formatTable(
    ['rank', 'schedule', 'base LR', 'seeds', `mean ${metric}`, '95% CI', 'diverged', ''],
    rows.map((r) => [
      String(r.rank),
      describeSchedule(r.config.schedule),
      String(r.config.baseLr),
      String(r.n),
      r.mean === null ? '–' : r.mean.toFixed(4),
      r.ci95 ? `[${r.ci95[0].toFixed(4)}, ${r.ci95[1].toFixed(4)}]` : '–',
      String(r.diverged),
      r.partial ? 'partial' : '',
    ]),
    { alignRight: [0, 2, 3, 4, 6] },
  );
}

/** An ASHA search's configurations stopped at a rung, apart from the ranking: where each stopped and its estimate there. */
export function prunedTable(rows: readonly PrunedRow[]): string {
  return formatTable(
    ['pruned', 'schedule', 'base LR', 'seeds', 'at rung', 'after updates', 'estimate'],
    rows.map((r) => [
      '',
      describeSchedule(r.config.schedule),
      String(r.config.baseLr),
      String(r.seeds),
      String(r.rung + 1),
      r.budget === null ? '–' : String(r.budget),
      r.estimate === null ? 'diverged' : r.estimate.toFixed(4),
    ]),
    { alignRight: [2, 3, 4, 5, 6] },
  );
}

/** An ASHA plan in one line: its rungs and what it trains at most against the grid. */
export const ashaLine = (a: { rungs: number[]; reduction: number; updates: number; gridUpdates: number }) =>
  `ASHA: rungs at ${a.rungs.join(', ')} updates, keeping 1/${a.reduction} at each: at most ${a.updates} updates instead of ${a.gridUpdates} (${Math.round((100 * a.updates) / a.gridUpdates)}%)`;

/** `[████░░░░] 12/24 done · 2 running · 0 failed · 0 diverged · 31s` */
export function progressLine(s: SweepDetail, elapsedS: number, width = 30): string {
  const c = s.counts;
  const done = c.completed + c.failed + c.diverged + c.cancelled + c.pruned;
  const filled = Math.round((done / Math.max(1, c.total)) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${c.total} done · ${c.running} running · ${c.failed} failed · ${c.diverged} diverged${c.pruned ? ` · ${c.pruned} pruned` : ''} · ${elapsedS.toFixed(0)}s`;
}

/** A number as people read it in a table: 4 significant digits, scientific when tiny or huge. */
export function num(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5)
    ? v.toExponential(2).replace('e+', 'e')
    : Number(v.toPrecision(digits)).toString();
}

/** The project's sweeps, newest first. */
export function sweepTable(sweeps: readonly SweepSummary[]): string {
  return formatTable(
    ['id', 'name', 'status', 'done', 'failed', 'diverged', 'created'],
    sweeps.map((s) => {
      const c = s.counts;
      return [
        s.id,
        s.name,
        s.status,
        `${c.completed + c.failed + c.diverged + c.cancelled + c.pruned}/${c.total}`,
        String(c.failed),
        String(c.diverged),
        s.createdAt.replace('T', ' ').slice(0, 19),
      ];
    }),
    { alignRight: [3, 4, 5] },
  );
}

/** `  3× INFRASTRUCTURE: …` per failure reason, under a heading; nothing when nothing failed. */
export function failureLines(failures: SweepDetail['failures']): string[] {
  if (!failures.length) return [];
  return ['failures:', ...failures.map((f) => `  ${f.count}× ${f.code}: ${f.message}`)];
}

/**
 * The verdict: one row per schedule at its own best LR, mean ± CI half-width, the difference to
 * the winner with the CI of the (paired) difference, the Holm-adjusted p, the basin, and warnings.
 */
export function verdictTable(a: ScheduleAnalysis): string {
  if (!a.rows.length) return `verdict: ${a.verdict}`;
  const k = a.rows.length;
  const head =
    `verdict on ${a.objective.metric} (${a.objective.aggregate}, ${a.objective.mode === 'max' ? 'higher' : 'lower'} is better), each schedule at its own best base LR` +
    (k > 1 ? `; p adjusted by Holm over the ${k - 1} comparison${k > 2 ? 's' : ''} with the winner` : '');
  const table = formatTable(
    ['', 'schedule', 'best LR', 'seeds', 'mean ± 95% CI', 'Δ to winner', '95% CI of Δ', 'p (Holm)', 'basin (decades)'],
    a.rows.map((r, i) => [
      i === 0 ? 'winner' : r.indistinguishable ? '≈ winner' : '',
      r.label,
      num(r.baseLr),
      String(r.n),
      r.ci95 ? `${num(r.mean)} ± ${num((r.ci95[1] - r.ci95[0]) / 2, 2)}` : num(r.mean),
      i === 0 ? '–' : `${r.delta >= 0 ? '+' : ''}${num(r.delta)}`,
      i === 0 || !r.diffCi95 ? '–' : `[${num(r.diffCi95[0])}, ${num(r.diffCi95[1])}]`,
      i === 0 ? '–' : num(r.pHolm, 2),
      r.basin ? num(r.basin.widthDecades, 2) : '–',
    ]),
    { alignRight: [2, 3, 5, 8] },
  );
  const warnings = a.rows.flatMap((r) => r.warnings.map((w) => `  ! ${r.label}: ${w.message}`));
  const seeds =
    a.seedsToResolve !== null &&
    a.rows.length > 1 &&
    a.rows[1]!.indistinguishable &&
    !a.rows.some((r) => r.warnings.some((w) => w.code === 'few_seeds'))
      ? [`  about ${a.seedsToResolve} seeds per configuration would resolve the top two (α = ${a.alpha}, power 0.8)`]
      : [];
  return [
    head,
    table,
    ...(warnings.length || seeds.length ? ['warnings:', ...warnings, ...seeds] : []),
    a.verdict,
  ].join('\n');
}

/** A sweep's forked cooldowns in one line: what they save against the independent grid. */
export const forkLine = (f: ForkSummary) =>
  `forked cooldowns: ${f.trunks} trunk${f.trunks === 1 ? '' : 's'} carry ${f.forks} fork${f.forks === 1 ? '' : 's'}: ${f.updates} updates instead of ${f.independentUpdates} (${Math.round((100 * f.updates) / f.independentUpdates)}%)`;

/** What a range test found, for people: where the loss fell fastest, its low, divergence, the grid to run. */
export function rangeTestLines(r: RangeTestView): string[] {
  if (!r.points.length) return [`range test ${r.id}: no updates recorded yet${r.provisional ? ' (running)' : ''}`];
  const lr = (x: number | null) => (x === null ? '–' : x.toPrecision(2));
  const out = [
    `range test ${r.id}${r.provisional ? ' (provisional: still running)' : ''}: ${r.seeds} seed(s), ${r.points.length} points`,
    `  steepest descent at lr ${lr(r.steepestLr)} · lowest loss at ${lr(r.minLossLr)} · ${r.divergedAtLr === null ? 'no divergence within the ramp' : `diverged at ${lr(r.divergedAtLr)}`}`,
    `  suggested grid.baseLr: [${r.suggested.baseLr.join(', ')}]`,
    `  run it: lrsweep submit <spec without grid.baseLr> --lr-from ${r.id}`,
  ];
  const step = Math.max(1, Math.floor(r.points.length / 12));
  const rows = r.points
    .filter((_, i) => i % step === 0)
    .map((p) => [lr(p.lr), p.loss.toFixed(4), p.smoothed.toFixed(4)]);
  return [...out, '', formatTable(['lr', 'loss (seed mean)', 'smoothed'], rows, { alignRight: [0, 1, 2] })];
}

/** A transfer study for people: the law per schedule, η* at the target, the winner, the warnings. */
export function transferLines(t: TransferAnswer): string[] {
  const lr = (x: number) => x.toPrecision(3);
  const axisName = (a: 'width' | 'length') => (a === 'width' ? `width (${t.width?.from})` : 'length (grid.horizon)');
  const out: string[] = [];
  if (t.pending) out.push(`provisional: ${t.pending} trials have not finished`);
  const rows = t.laws.map((l) => [
    l.schedule + (l.at !== null ? (l.axis === 'width' ? ` · T=${l.at}` : ` · width ${l.at}`) : ''),
    l.axis,
    `${l.b.toFixed(2)} [${l.bInterval[0].toFixed(2)}, ${l.bInterval[1].toFixed(2)}]`,
    l.target ? `${lr(l.target.lr)} [${lr(l.target.interval[0])}, ${lr(l.target.interval[1])}]` : '–',
  ]);
  const target = [
    t.width?.target != null ? `width ${t.width.target}` : null,
    t.length?.target != null ? `T=${t.length.target}` : null,
  ]
    .filter(Boolean)
    .join(', ');
  out.push(
    `η* = a · scale^b per schedule along ${[t.width ? axisName('width') : null, t.length ? axisName('length') : null].filter(Boolean).join(' and ')}; ${t.objective.metric} (${t.objective.aggregate}, ${t.objective.mode})`,
  );
  if (rows.length)
    out.push(
      formatTable(
        ['schedule', 'axis', 'exponent b [95%]', `η* at the target${target ? ` (${target})` : ''} [95% prediction]`],
        rows,
      ),
    );
  else out.push('no law yet: a law needs η* at 3 scales');
  if (t.winner) out.push('', t.winner.statement);
  if (t.tau)
    out.push(
      `Kendall τ between scale ${t.tau.from} and ${t.tau.to}: ${t.tau.tau === null ? '–' : t.tau.tau.toFixed(2)}${t.tau.interval ? ` [${t.tau.interval[0].toFixed(2)}, ${t.tau.interval[1].toFixed(2)}]` : ''}`,
    );
  if (t.warnings.length) out.push('', 'warnings:', ...t.warnings.map((w) => `  ${w}`));
  return out;
}
