import type { PrunedRow, ValidateAnswer } from '@lrsweep/client';
import { describeSchedule } from '@lrsweep/schedules';

type Plan = NonNullable<Extract<ValidateAnswer, { valid: true }>['asha']>;

/** An ASHA search's plan: where its rungs are and the most it trains against the full grid. */
export function AshaPlan({ asha }: { asha: Plan }) {
  const pct = Math.round((100 * asha.updates) / asha.gridUpdates);
  return (
    <p
      className="muted"
      data-testid="asha-plan"
      title="Each rung judges a trial by a short cooldown from its checkpoint there (an annealed estimate), on its seeds' mean; the best 1/η go on, the rest end pruned."
    >
      ASHA: rungs at {asha.rungs.join(', ')} updates, keeping 1/{asha.reduction} at each: at most <b>{asha.updates}</b>{' '}
      updates instead of {asha.gridUpdates} ({pct}%).
    </p>
  );
}

/** Configurations an ASHA search stopped at a rung: not ranked, shown with where they stopped. */
export function PrunedTable({ rows }: { rows: readonly PrunedRow[] }) {
  return (
    <table data-testid="pruned-table">
      <caption className="muted">
        Stopped early by ASHA (not ranked): each at its rung, with its seeds' annealed estimate there.
      </caption>
      <thead>
        <tr>
          <th>schedule</th>
          <th>base LR</th>
          <th>seeds</th>
          <th>stopped at rung</th>
          <th>after updates</th>
          <th>estimate</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.configId} className="pruned">
            <td>{describeSchedule(r.config.schedule)}</td>
            <td>{r.config.baseLr}</td>
            <td>{r.seeds}</td>
            <td>{r.rung + 1}</td>
            <td>{r.budget ?? '–'}</td>
            <td>{r.estimate === null ? 'diverged' : r.estimate.toFixed(4)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
