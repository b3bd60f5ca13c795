// The SDK's HTTP side: its errors, and calls retried with jittered backoff.
import type { ApiErrorBody } from '@lrsweep/contract';

/** An answer of the lrsweep API other than 2xx. */
export class LrsweepError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
  }
}
/**
 * The trial must stop (409 STALE_ATTEMPT): `reason` is cancelled, deleted, superseded,
 * lease_lost or ended. `trial.run()` ends the trial quietly on it; the agent goes on.
 */
export class StaleAttempt extends LrsweepError {
  constructor(
    status: number,
    message: string,
    readonly reason: string,
  ) {
    super(status, 'STALE_ATTEMPT', message);
  }
}

/** A wait spread over ±50%, so agents throttled together do not retry together. */
export const jittered = (ms: number) => ms * (0.5 + Math.random());

/** Throw it from `trial.run()` for a failure no retry can mend: the trial fails for good. */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export class Api {
  readonly base: string;
  constructor(
    url: string,
    readonly token: string,
  ) {
    this.base = url.replace(/\/+$/, '').replace(/\/v1$/, '');
  }

  /**
   * A call, retried with jittered backoff on network errors, 5xx and 429 (honouring Retry-After;
   * not 429 with `retryThrottled: false`: the caller decides) for up to `retryForMs`.
   */
  async call<T>(
    method: string,
    path: string,
    body?: unknown,
    o: { retryForMs?: number; signal?: AbortSignal; retryThrottled?: boolean } = {},
  ): Promise<T> {
    const deadline = Date.now() + (o.retryForMs ?? 60_000);
    for (let delay = 200; ; delay = Math.min(delay * 2, 5000)) {
      let wait = jittered(delay);
      try {
        const res = await fetch(`${this.base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: o.signal,
        });
        const text = await res.text();
        const data = text ? JSON.parse(text) : null;
        if (res.ok) return data as T;
        const e = (data ?? {}) as Partial<ApiErrorBody>;
        const message = e.message ?? text.slice(0, 200);
        const err =
          e.code === 'STALE_ATTEMPT'
            ? new StaleAttempt(res.status, message, e.reason ?? 'ended')
            : new LrsweepError(res.status, e.code ?? 'HTTP_ERROR', message);
        (err as LrsweepError & { retryAfterMs?: number }).retryAfterMs =
          Number(res.headers.get('retry-after')) * 1000 || undefined;
        if (!(res.status >= 500 || (res.status === 429 && o.retryThrottled !== false))) throw err;
        wait = jittered(Number(res.headers.get('retry-after')) * 1000 || delay);
        if (Date.now() + wait > deadline) throw err;
      } catch (err) {
        if (err instanceof LrsweepError) throw err;
        if (o.signal?.aborted || Date.now() + delay > deadline) throw err;
      }
      await sleep(wait, o.signal);
    }
  }
}
