import type { PrunedRow, RankingRow, ScheduleAnalysis } from '@lrsweep/client';
import { describeSchedule } from '@lrsweep/schedules';
import { useState } from 'react';
import { tickLabel } from '../charts/scales';
import { metricText as fmt, testMetricOf } from '../format';

const half = (ci: [number, number] | null) => (ci ? (ci[1] - ci[0]) / 2 : null);

/**
 * The answer first: one row per schedule at its own best base LR, mean ± CI, Δ to the winner with
 * the CI of the paired difference, p adjusted by Holm over the comparisons with the winner, a
 * "≈ winner" marker, the basin width and the warnings that qualify it.
 */
/**
 * Base LRs one grid step beyond the edges where some schedule's best LR sits (the step is the
 * grid's own ratio at that edge), to offer as an extension of the grid.
 */
export function edgeExtensions(analysis: ScheduleAnalysis, ranking: RankingRow[]): number[] {
  const lrs = [...new Set(ranking.map((r) => r.config.baseLr))].sort((a, b) => a - b);
  if (lrs.length < 2) return [];
  const out = new Set<number>();
  const round = (v: number) => Number(v.toPrecision(3));
  for (const r of analysis.rows) {
    if (!r.warnings.some((w) => w.code === 'best_lr_at_edge')) continue;
    if (r.baseLr === lrs.at(-1)) out.add(round(r.baseLr * (r.baseLr / lrs.at(-2)!)));
    else if (r.baseLr === lrs[0]) out.add(round(r.baseLr / (lrs[1]! / r.baseLr)));
  }
  return [...out].sort((a, b) => a - b);
}

export function VerdictTable({
  analysis,
  ranking,
  colorOf,
  onExtend,
}: {
  analysis: ScheduleAnalysis;
  ranking: RankingRow[];
  colorOf: (key: string) => string;
  onExtend?: (baseLr: number) => void;
}) {
  const rows = analysis.rows;
  const metric = analysis.objective.metric;
  const testMetric = testMetricOf(metric);
  const testOf = (configId: string) =>
    testMetric ? (ranking.find((r) => r.configId === configId)?.test[testMetric] ?? null) : null;
  const withTest = rows.some((r) => testOf(r.configId)?.mean != null);
  const extensions = onExtend ? edgeExtensions(analysis, ranking) : [];
  if (!rows.length) return <p className="empty">No schedule has a completed seed yet.</p>;
  const k = rows.length;
  const warnings = rows.flatMap((r) => r.warnings.map((w) => ({ ...w, label: r.label, key: r.scheduleKey })));
  return (
    <>
      <table data-testid="verdict-rows">
        <thead>
          <tr>
            <th />
            <th>schedule</th>
            <th className="num">best LR</th>
            <th className="num">seeds</th>
            <th className="num" title="the split that selects">
              validation {metric} ± 95% CI
            </th>
            <th className="num" title="mean minus the winner's mean, each at its own best LR">
              Δ to winner
            </th>
            <th className="num" title="95% CI of the difference (paired over shared seeds)">
              95% CI of Δ
            </th>
            <th
              className="num"
              title={`p of the paired test, adjusted by Holm over the ${k - 1} comparisons with the winner`}
            >
              p (Holm)
            </th>
            <th className="num" title="width, in decades, of the base LRs within tolerance of the best">
              basin
            </th>
            {withTest && (
              <th
                className="num"
                title="the test split of the same seeds, measured once after training: it never selects"
              >
                {testMetric} ± 95% CI
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr
              key={r.scheduleKey}
              data-schedule={r.scheduleKey}
              data-config={r.configId}
              className={i === 0 ? 'winner' : r.indistinguishable ? 'tie' : ''}
            >
              <td>
                {i === 0 ? (
                  <span className="badge win">winner</span>
                ) : r.indistinguishable ? (
                  <span className="badge" title="not distinguishable from the winner at this alpha">
                    ≈ winner
                  </span>
                ) : (
                  ''
                )}
              </td>
              <td>
                <span className="swatch" style={{ background: colorOf(r.scheduleKey) }} />
                {r.label}
              </td>
              <td className="num">{tickLabel(r.baseLr)}</td>
              <td className="num">{r.n}</td>
              <td className="num" data-mean={r.mean}>
                {fmt(r.mean)}
                {r.ci95 ? ` ± ${fmt(half(r.ci95))}` : ''}
              </td>
              <td className="num" data-delta={r.delta}>
                {i === 0 ? '–' : `${r.delta >= 0 ? '+' : ''}${fmt(r.delta)}`}
              </td>
              <td className="num">{i === 0 || !r.diffCi95 ? '–' : `[${fmt(r.diffCi95[0])}, ${fmt(r.diffCi95[1])}]`}</td>
              <td className="num" data-pholm={r.pHolm ?? ''}>
                {i === 0 ? '–' : r.pHolm === null ? 'n/a' : r.pHolm < 0.001 ? '< 0.001' : r.pHolm.toFixed(3)}
              </td>
              <td className="num">{r.basin ? `${r.basin.widthDecades.toFixed(2)} dec` : '–'}</td>
              {withTest && (
                <td className="num test-split" data-test-mean={testOf(r.configId)?.mean ?? ''}>
                  {fmt(testOf(r.configId)?.mean)}
                  {testOf(r.configId)?.ci95 ? ` ± ${fmt(half(testOf(r.configId)!.ci95))}` : ''}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {onExtend && extensions.length > 0 && (
        <div className="toolbar" data-testid="extend-grid">
          <span className="muted">The best LR sits at the grid's edge:</span>
          {extensions.map((lr) => (
            <button type="button" key={lr} className="secondary" onClick={() => onExtend(lr)}>
              Extend the grid to {tickLabel(lr)}
            </button>
          ))}
        </div>
      )}
      {warnings.length > 0 && (
        <ul className="warnings" data-testid="verdict-warnings">
          {warnings.map((w) => (
            <li key={w.key + w.code} data-code={w.code}>
              <b>{w.label}</b>: {w.message}
            </li>
          ))}
        </ul>
      )}
      {analysis.seedsToResolve !== null &&
        rows.length > 1 &&
        rows[1]!.indistinguishable &&
        !warnings.some((w) => w.code === 'few_seeds') && (
          <p className="muted" data-testid="seeds-to-resolve">
            About {analysis.seedsToResolve} seeds per configuration would resolve the top two (α = {analysis.alpha},
            power 0.8), from the spread seen so far.
          </p>
        )}
    </>
  );
}

/**
 * The objective over base LR (columns) × schedule (rows), each cell the configuration's mean across
 * seeds, shaded from best to worst; hover a cell for its CI and seeds.
 */
export function Heatmap({
  ranking,
  analysis,
  mode,
  colorOf,
  pruned = [],
}: {
  ranking: RankingRow[];
  analysis: ScheduleAnalysis;
  mode: 'min' | 'max';
  colorOf: (key: string) => string;
  /** An ASHA search's pruned configurations: their cells say where they stopped. */
  pruned?: readonly PrunedRow[];
}) {
  const [hover, setHover] = useState<string>('hover over a cell for its CI');
  const lrs = [...new Set([...ranking, ...pruned].map((r) => r.config.baseLr))].sort((a, b) => a - b);
  const prunedAt = new Map(pruned.map((p) => [`${p.scheduleKey}\u0000${p.config.baseLr}`, p]));
  // Schedules every configuration of which was pruned have no analysis row: they get one of their own.
  const rows = [
    ...analysis.schedules.map((s) => ({ scheduleKey: s.scheduleKey, label: s.label })),
    ...[
      ...new Map(
        pruned
          .filter((p) => !analysis.schedules.some((s) => s.scheduleKey === p.scheduleKey))
          .map((p) => [p.scheduleKey, describeSchedule(p.config.schedule)]),
      ).entries(),
    ].map(([scheduleKey, label]) => ({ scheduleKey, label })),
  ];
  const byCell = new Map(ranking.map((r) => [`${r.scheduleKey}\u0000${r.config.baseLr}`, r]));
  const means = ranking.map((r) => r.mean).filter((m): m is number => m !== null);
  const best = mode === 'min' ? Math.min(...means) : Math.max(...means);
  const worst = mode === 'min' ? Math.max(...means) : Math.min(...means);
  // 1 at the best mean, 0 at the worst.
  const goodness = (m: number) => (best === worst ? 1 : (m - worst) / (best - worst));
  const describe = (r: RankingRow) =>
    `${r.mean === null ? 'no completed seed' : `${r.mean.toFixed(4)}${r.ci95 ? ` [${r.ci95[0].toFixed(4)}, ${r.ci95[1].toFixed(4)}] 95% CI` : ''}`} · ${r.n}/${r.seeds} seeds${r.diverged ? ` · ${r.diverged} diverged` : ''} · rank ${r.rank}`;
  if (!ranking.length && !pruned.length) return <p className="empty">No configurations yet.</p>;
  return (
    <>
      <table className="heatmap" data-testid="heatmap">
        <thead>
          <tr>
            <th>schedule \ base LR</th>
            {lrs.map((lr) => (
              <th key={lr} className="num">
                {tickLabel(lr)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((s) => (
            <tr key={s.scheduleKey}>
              <th>
                <span className="swatch" style={{ background: colorOf(s.scheduleKey) }} />
                {s.label}
              </th>
              {lrs.map((lr) => {
                const r = byCell.get(`${s.scheduleKey}\u0000${lr}`);
                const p = prunedAt.get(`${s.scheduleKey}\u0000${lr}`);
                if (!r && p) {
                  const why = `pruned by ASHA at rung ${p.rung + 1} (after ${p.budget ?? '?'} updates): estimate ${p.estimate === null ? 'diverged' : p.estimate.toFixed(4)} over ${p.seeds} seeds`;
                  return (
                    <td
                      key={lr}
                      className="cell pruned"
                      data-config={p.configId}
                      title={why}
                      onMouseEnter={() => setHover(`${s.label} @ ${tickLabel(lr)}: ${why}`)}
                    >
                      ✂ rung {p.rung + 1}
                    </td>
                  );
                }
                if (!r) return <td key={lr} className="cell none" />;
                const g = r.mean === null ? null : goodness(r.mean);
                const style =
                  g === null
                    ? undefined
                    : { background: `hsl(210 70% ${88 - 55 * g}%)`, color: g > 0.55 ? '#fff' : '#111827' };
                return (
                  <td
                    key={lr}
                    className={`cell num${r.mean === null ? ' diverged' : ''}`}
                    style={style}
                    data-config={r.configId}
                    data-mean={r.mean ?? ''}
                    title={describe(r)}
                    onMouseEnter={() => setHover(`${s.label} @ ${tickLabel(lr)}: ${describe(r)}`)}
                  >
                    {r.mean === null ? (r.diverged ? '✕ diverged' : '…') : r.mean.toFixed(3)}
                    {r.partial && r.mean !== null ? '*' : ''}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted readout" data-testid="heatmap-readout">
        {hover}
      </p>
    </>
  );
}
