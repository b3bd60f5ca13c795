import { useEffect, useMemo, useState } from 'react';
import { ApiContext, clientFor, errorText, storedToken, storeToken } from './api';
import { AgentsPage } from './pages/AgentsPage';
import { NewSweep } from './pages/NewSweep';
import { SweepPage } from './pages/SweepPage';
import { SweepsList } from './pages/SweepsList';
import { TrialPage } from './pages/TrialPage';
import { WorkersPage } from './pages/WorkersPage';

/** Hash routes (#/, #/sweeps/<id>, #/new): no server routing needed, and no secret in any URL. */
function useRoute() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash.replace(/^#\/?/, '').split('/');
}

function TokenForm({ onToken, error }: { onToken: (t: string) => void; error?: string }) {
  const [value, setValue] = useState('');
  return (
    <form
      className="card token"
      onSubmit={(e) => {
        e.preventDefault();
        if (value.trim()) onToken(value.trim());
      }}
    >
      <h2>API token</h2>
      <p>Paste an lrsweep API token. It is kept in this browser and sent only in request headers.</p>
      <p className="muted" data-testid="token-help">
        Where tokens come from: the operator's token is the API's <code>LRSWEEP_BOOTSTRAP_TOKEN</code> (
        <code>pnpm demo</code> prints one); an admin mints others with{' '}
        <code>pnpm lrsweep tokens create --project &lt;project&gt; --name &lt;you&gt;</code> or{' '}
        <code>pnpm --filter @lrsweep/api tokens create …</code> on the API's machine.
      </p>
      <input
        aria-label="API token"
        type="password"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        placeholder="lrs_…"
        // biome-ignore lint/a11y/noAutofocus: the token is the page's only field, shown alone until it is given.
        autoFocus
      />
      <button type="submit">Use token</button>
      {error && <p className="error">{error}</p>}
    </form>
  );
}

export function App() {
  const [token, setToken] = useState(storedToken());
  const [tokenError, setTokenError] = useState<string>();
  const client = useMemo(() => (token ? clientFor(token) : null), [token]);
  const route = useRoute();

  useEffect(() => {
    if (!client) return;
    // A revoked or mistyped token sends the user back to the form, with the reason.
    client.listSweeps({ limit: 1 }).catch((e) => {
      storeToken(null);
      setToken(null);
      setTokenError(errorText(e));
    });
  }, [client]);

  return (
    <div className="app">
      <header>
        <a href="#/" className="brand">
          lrsweep
        </a>
        <nav>
          <a href="#/">Sweeps</a>
          <a href="#/new">New sweep</a>
          <a href="#/workers">Workers</a>
          <a href="#/agents">Agents</a>
          {token && (
            <button type="button" className="link" onClick={() => (storeToken(null), setToken(null))}>
              Forget token
            </button>
          )}
        </nav>
      </header>
      <main>
        {!client ? (
          <TokenForm onToken={(t) => (storeToken(t), setTokenError(undefined), setToken(t))} error={tokenError} />
        ) : (
          <ApiContext.Provider value={client}>
            {route[0] === 'sweeps' && route[1] ? (
              <SweepPage key={route[1]} id={route[1]} />
            ) : route[0] === 'trials' && route[1] ? (
              <TrialPage key={route[1]} id={route[1]} />
            ) : route[0] === 'new' ? (
              <NewSweep />
            ) : route[0] === 'agents' ? (
              <AgentsPage />
            ) : route[0] === 'workers' ? (
              <WorkersPage />
            ) : (
              <SweepsList />
            )}
          </ApiContext.Provider>
        )}
      </main>
    </div>
  );
}
