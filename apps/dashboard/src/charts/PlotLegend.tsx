import type { PlotSeries } from './plot-data';

/** The plot's legend: an entry per series (its colour and dash) that shows or hides it. */
export function PlotLegend(p: {
  series: PlotSeries[];
  hidden: Set<string>;
  diverged: boolean;
  onToggle: (label: string) => void;
  testId: string;
}) {
  return (
    <ul className="legend" data-testid={p.testId}>
      {p.series.map((s, i) => (
        // Labels may repeat (a trainer's axes the caller's label leaves out): the position keys it.
        // biome-ignore lint/suspicious/noArrayIndexKey: series are positional, their labels need not be unique
        <li key={`${i}-${s.label}`}>
          <button
            type="button"
            className={`legend-item${p.hidden.has(s.label) ? ' off' : ''}`}
            data-hidden={p.hidden.has(s.label)}
            onClick={() => p.onToggle(s.label)}
            title="show or hide"
          >
            <svg width="20" height="10" aria-hidden="true">
              <line x1="0" y1="5" x2="20" y2="5" stroke={s.color} strokeWidth="3" strokeDasharray={s.dash?.join(' ')} />
            </svg>
            {s.label}
          </button>
        </li>
      ))}
      {p.diverged && <li className="muted">● at the edge: every seed diverged</li>}
    </ul>
  );
}
