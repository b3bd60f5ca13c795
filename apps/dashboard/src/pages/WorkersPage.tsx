import type { WorkersAnswer } from '@lrsweep/client';
import { useApi, usePolling } from '../api';
import { age } from './SweepsList';

/** The fleet, live: built-in workers and agents, their pools, backend, slots, state and running trials. */
export function WorkersPage() {
  const api = useApi();
  const { data, error } = usePolling<WorkersAnswer>(() => api.listWorkers(), [api], { everyMs: 2000 });
  const state = { alive: 'running', lost: 'failed', stopped: 'cancelled' } as const;
  return (
    <section className="card">
      <h2>Workers</h2>
      <p className="muted">
        Built-in workers serve every project; agents serve their own. A worker silent for longer than its lease is shown
        lost.
      </p>
      {error && <p className="error">{error}</p>}
      {data && data.workers.length === 0 && (
        <p className="empty">
          No worker has registered. Start one: <code>pnpm --filter @lrsweep/worker start</code>.
        </p>
      )}
      {data && data.workers.length > 0 && (
        <table data-testid="workers">
          <thead>
            <tr>
              <th>name</th>
              <th>kind</th>
              <th>state</th>
              <th>pools</th>
              <th>host</th>
              <th>backend</th>
              <th>device</th>
              <th className="num">slots</th>
              <th>running</th>
              <th>last heartbeat</th>
              <th>version</th>
              <th>started</th>
            </tr>
          </thead>
          <tbody>
            {data.workers.map((w) => (
              <tr key={w.id} data-worker={w.name} data-state={w.state}>
                <td>{w.name}</td>
                <td>{w.kind}</td>
                <td>
                  <span className={`status ${state[w.state]}`}>{w.state}</span>
                </td>
                <td>{w.pools.join(', ')}</td>
                <td>{w.host ?? '–'}</td>
                <td>{w.backend ?? w.framework ?? '–'}</td>
                <td title={w.driver ? `NVIDIA driver ${w.driver}` : undefined}>
                  {w.deviceName ?? w.device ?? '–'}
                  {w.deviceMemoryMiB !== null && (
                    <span className="muted"> · {Math.round(w.deviceMemoryMiB / 1024)} GiB</span>
                  )}
                </td>
                <td className="num">{w.slots ?? '–'}</td>
                <td>
                  {w.runningTrials.map((t) => (
                    <a key={t.trialId} href={`#/trials/${t.trialId}`}>
                      {t.trialId.slice(0, 8)}{' '}
                    </a>
                  ))}
                  {w.otherProjectTrials > 0 && <span className="muted">+{w.otherProjectTrials} of other projects</span>}
                  {!w.runningTrials.length && !w.otherProjectTrials && '–'}
                </td>
                <td>{age(w.lastHeartbeatAt)} ago</td>
                <td>{w.version ?? '–'}</td>
                <td>{age(w.startedAt)} ago</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
