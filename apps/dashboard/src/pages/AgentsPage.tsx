import type { AgentView } from '@lrsweep/client';
import { useApi, usePolling } from '../api';
import { age } from './SweepsList';

/** The project's agents (external trainers), live: alive or not, last heartbeat, current trial. */
export function AgentsPage() {
  const api = useApi();
  const { data, error } = usePolling<{ agents: AgentView[] }>(() => api.listAgents(), [api], { everyMs: 2000 });
  return (
    <section className="card">
      <h2>Agents</h2>
      {error && <p className="error">{error}</p>}
      {data && data.agents.length === 0 && (
        <p className="empty">
          No agent has registered. Run a trainer of your own under an agent token: see <code>docs/agents.md</code>.
        </p>
      )}
      {data && data.agents.length > 0 && (
        <table data-testid="agents">
          <thead>
            <tr>
              <th>name</th>
              <th>pool</th>
              <th>state</th>
              <th>last heartbeat</th>
              <th>framework</th>
              <th>device</th>
              <th>current trial</th>
            </tr>
          </thead>
          <tbody>
            {data.agents.map((a) => (
              <tr key={a.id}>
                <td>{a.name}</td>
                <td>{a.pool}</td>
                <td>
                  <span className={`status ${a.alive ? 'running' : 'cancelled'}`}>{a.alive ? 'alive' : 'gone'}</span>
                </td>
                <td>{age(a.lastHeartbeatAt)} ago</td>
                <td>{a.framework ?? '–'}</td>
                <td>{a.device ?? '–'}</td>
                <td>{a.currentTrialId ?? '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
