import type { LrsweepClient } from '@lrsweep/client';
import { useEffect, useMemo, useState } from 'react';
import { errorText, useApi } from '../api';
import { LinePlot, type PlotSeries } from '../charts/LinePlot';
import { scheduleColors } from '../charts/scales';

type TransferAnswer = Awaited<ReturnType<LrsweepClient['transfer']>>;

const lr = (x: number) => x.toPrecision(3);

/**
 * A transfer study (spec `transfer`): η* of each schedule against scale on log-log axes, with its
 * bootstrap interval as a band, the fitted law η* = a · scale^b carried out to the target (dashed),
 * and the extrapolated η* there with its prediction interval; then the table of laws, whether the
 * winner changes with scale, and what not to trust.
 */
export function TransferCard({ id, version }: { id: string; version: string }) {
  const api = useApi();
  const [t, setT] = useState<TransferAnswer>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api.transfer(id).then(setT, (e) => setError(errorText(e)));
  }, [api, id, version]);
  const view = useMemo(() => (t ? plotOf(t) : null), [t]);
  return (
    <section className="card" data-testid="transfer">
      <h3>LR transfer across scale {t && t.pending > 0 && <span className="badge">provisional</span>}</h3>
      {error && <p className="error">{error}</p>}
      {t && view && (
        <>
          {view.series.length > 0 ? (
            <LinePlot
              testId="transfer-plot"
              logX
              logY
              xLabel={view.xLabel}
              yLabel="η* (best base LR)"
              series={view.series}
            />
          ) : (
            <p className="muted">no η* yet: each schedule needs a finished seed at every LR of a scale</p>
          )}
          {t.laws.length > 0 && (
            <table data-testid="transfer-laws">
              <thead>
                <tr>
                  <th>schedule</th>
                  <th>axis</th>
                  <th>exponent b [95%]</th>
                  <th>η* at the target [95% prediction]</th>
                </tr>
              </thead>
              <tbody>
                {t.laws.map((l) => (
                  <tr key={`${l.scheduleKey}-${l.axis}-${l.at}`}>
                    <td>
                      {l.schedule}
                      {l.at !== null && (
                        <span className="muted"> · {l.axis === 'width' ? `T=${l.at}` : `width ${l.at}`}</span>
                      )}
                    </td>
                    <td>{l.axis}</td>
                    <td>
                      {l.b.toFixed(2)} [{l.bInterval[0].toFixed(2)}, {l.bInterval[1].toFixed(2)}]
                    </td>
                    <td>
                      {l.target
                        ? `${lr(l.target.lr)} [${lr(l.target.interval[0])}, ${lr(l.target.interval[1])}]`
                        : '– (no target)'}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {t.winner && <p data-testid="transfer-winner">{t.winner.statement}</p>}
          {t.tau && t.tau.tau !== null && (
            <p className="muted">
              Kendall τ between scale {t.tau.from} and {t.tau.to}: {t.tau.tau.toFixed(2)}
              {t.tau.interval && ` [${t.tau.interval[0].toFixed(2)}, ${t.tau.interval[1].toFixed(2)}]`}
            </p>
          )}
          {t.warnings.length > 0 && (
            <ul className="warnings" data-testid="transfer-warnings">
              {t.warnings.map((w) => (
                <li key={w}>{w}</li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

/**
 * The plot along the first marked axis (at the first value of the other, when both are marked):
 * per schedule, η* with its interval band, the law out to the target (dashed), and the target.
 */
function plotOf(t: TransferAnswer): { series: PlotSeries[]; xLabel: string } {
  const axis = t.width ? 'width' : 'length';
  const baseWidth = t.width?.baseWidth ?? 1;
  const target = axis === 'width' ? (t.width?.target ?? null) : (t.length?.target ?? null);
  const xOf = (o: { width: number | null; steps: number | null }) => (axis === 'width' ? o.width : o.steps);
  const atOf = (o: { width: number | null; steps: number | null }) =>
    axis === 'width' ? (t.length ? o.steps : null) : t.width ? o.width : null;
  const firstAt = t.optima.length ? atOf(t.optima[0]!) : null;
  const optima = t.optima.filter((o) => atOf(o) === firstAt && xOf(o) !== null);
  const colorOf = scheduleColors(optima.map((o) => o.scheduleKey));
  const series: PlotSeries[] = [];
  for (const key of [...new Set(optima.map((o) => o.scheduleKey))]) {
    const mine = optima.filter((o) => o.scheduleKey === key).sort((a, b) => xOf(a)! - xOf(b)!);
    const color = colorOf(key);
    const name = mine[0]!.schedule;
    series.push({
      label: `η* · ${name}`,
      color,
      x: mine.map((o) => xOf(o)!),
      y: mine.map((o) => o.lr),
      lo: mine.map((o) => o.interval[0]),
      hi: mine.map((o) => o.interval[1]),
    });
    const law = t.laws.find((l) => l.scheduleKey === key && l.axis === axis && l.at === firstAt);
    if (!law) continue;
    const toScale = (x: number) => (axis === 'width' ? x / baseWidth : x);
    const xs = [xOf(mine[0]!)!, Math.max(xOf(mine[mine.length - 1]!)!, target ?? 0)];
    series.push({
      label: `law · ${name} (b = ${law.b.toFixed(2)})`,
      color,
      dash: [6, 4],
      x: xs,
      y: xs.map((x) => law.a * toScale(x) ** law.b),
    });
    if (law.target && target !== null) {
      series.push({
        label: `target · ${name}`,
        color,
        x: [target],
        y: [law.target.lr],
        lo: [law.target.interval[0]],
        hi: [law.target.interval[1]],
      });
    }
  }
  const xLabel =
    axis === 'width'
      ? `width (${t.width?.from}${firstAt !== null ? `, T=${firstAt}` : ''})`
      : `horizon T (updates${firstAt !== null ? `, width ${firstAt}` : ''})`;
  return { series, xLabel };
}
