import type { SweepPage as Page } from '@lrsweep/client';
import { useApi, usePolling } from '../api';
import { Progress } from './Progress';

export const age = (iso: string) => {
  const s = (Date.now() - Date.parse(iso)) / 1000;
  return s < 60
    ? `${Math.round(s)} s`
    : s < 3600
      ? `${Math.round(s / 60)} min`
      : s < 86_400
        ? `${Math.round(s / 3600)} h`
        : `${Math.round(s / 86_400)} d`;
};

export function SweepsList() {
  const api = useApi();
  const { data, error } = usePolling<Page>(() => api.listSweeps({ limit: 50 }), [api], { everyMs: 3000 });
  return (
    <section className="card">
      <h2>Sweeps</h2>
      {error && <p className="error">{error}</p>}
      {data && data.sweeps.length === 0 && (
        <p className="empty">
          No sweeps yet. <a href="#/new">Submit one</a>, or run <code>pnpm lrsweep submit spec.yaml</code>.
        </p>
      )}
      {data && data.sweeps.length > 0 && (
        <table data-testid="sweeps">
          <thead>
            <tr>
              <th>name</th>
              <th>status</th>
              <th>progress</th>
              <th className="num">trials</th>
              <th className="num">failed</th>
              <th className="num">diverged</th>
              <th>age</th>
            </tr>
          </thead>
          <tbody>
            {data.sweeps.map((s) => (
              <tr key={s.id}>
                <td>
                  <a href={`#/sweeps/${s.id}`}>{s.name}</a>
                </td>
                <td>
                  <span className={`status ${s.status}`}>{s.status}</span>
                </td>
                <td>
                  <Progress counts={s.counts} />
                </td>
                <td className="num">{s.trialCount}</td>
                <td className="num" data-testid="failed-count">
                  {s.counts.failed ? <span className="status failed">{s.counts.failed} failed</span> : 0}
                </td>
                <td className="num">{s.counts.diverged}</td>
                <td>{age(s.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
