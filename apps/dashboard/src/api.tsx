import { ApiRequestError, createClient, type LrsweepClient } from '@lrsweep/client';
import { createContext, useContext, useEffect, useRef, useState } from 'react';

const TOKEN_KEY = 'lrsweep.token';

/** The token lives in localStorage and travels only in the Authorization header, never in a URL. */
export const storedToken = () => localStorage.getItem(TOKEN_KEY);
export const storeToken = (t: string | null) =>
  t ? localStorage.setItem(TOKEN_KEY, t) : localStorage.removeItem(TOKEN_KEY);

export const clientFor = (token: string) => createClient({ baseUrl: '', token });
export const ApiContext = createContext<LrsweepClient | null>(null);
export const useApi = () => useContext(ApiContext)!;

export const errorText = (e: unknown) =>
  e instanceof ApiRequestError ? `${e.body.message} (${e.status})` : (e as Error).message;

/**
 * Loads `load()` now and again while `live` says so: every `everyMs`, backing off (×2, up to 30 s)
 * while requests fail. No page reload needed to follow a running sweep.
 */
export function usePolling<T>(
  load: () => Promise<T>,
  deps: unknown[],
  opts: { everyMs?: number; live?: (v: T) => boolean } = {},
) {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  const live = useRef(opts.live);
  live.current = opts.live;
  useEffect(() => {
    let stopped = false;
    let delay = opts.everyMs ?? 1500;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async () => {
      try {
        const data = await load();
        if (stopped) return;
        setState({ data });
        delay = opts.everyMs ?? 1500;
        if (live.current && !live.current(data)) return;
      } catch (e) {
        if (stopped) return;
        setState((s) => ({ ...s, error: errorText(e) }));
        delay = Math.min(delay * 2, 30_000);
      }
      timer = setTimeout(tick, delay);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return state;
}
