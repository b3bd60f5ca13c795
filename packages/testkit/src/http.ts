/** A small JSON client for the API under test. */
export function apiClient(base: string, token?: string) {
  const call = async <T = any>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T; headers: Headers }> => {
    const res = await fetch(base + path, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
  return {
    get: <T = any>(path: string) => call<T>('GET', path),
    post: <T = any>(path: string, body?: unknown) => call<T>('POST', path, body),
    delete: <T = any>(path: string) => call<T>('DELETE', path),
    /** Polls a sweep until it has ended (completed, failed or cancelled). */
    async waitForSweep(id: string, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await call<any>('GET', `/v1/sweeps/${id}`);
        if (r.status !== 200) throw new Error(`GET sweep ${id}: ${r.status} ${JSON.stringify(r.body)}`);
        if (['completed', 'failed', 'cancelled'].includes(r.body.status)) return r.body;
        if (Date.now() > deadline) throw new Error(`sweep ${id} did not finish: ${JSON.stringify(r.body.counts)}`);
        await new Promise((res) => setTimeout(res, 250));
      }
    },
  };
}
