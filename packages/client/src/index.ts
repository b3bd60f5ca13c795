/**
 * The typed lrsweep API client used by the CLI, the dashboard and the end-to-end tests. Its types
 * come from the contract (`@lrsweep/contract`, the schemas the API registers on its routes), so a
 * changed route breaks the build of every caller. Runs on fetch: Node 20 and browsers.
 */
import type {
  Aggregate,
  ApiErrorBody,
  CancelAnswer,
  CreatedToken,
  CreateTokenRequest,
  ExtendSweep,
  SweepExtended,
  Curves,
  MetricName,
  Preview,
  PreviewRequest,
  RangeTestView,
  Results,
  RetryAnswer,
  ScheduleAnalysis,
  SweepCreated,
  TransferAnswer,
  SweepDetail,
  SweepPage,
  SweepSpecInput,
  Trial,
  TrialAttempts,
  WorkersAnswer,
  TrialMetrics,
  TrialPage,
  TokenView,
  ValidateAnswer,
  AgentView,
  PoolBacklog,
  ScalerLease,
} from '@lrsweep/contract';
import { sweepEnded, trialLive, trialStatuses } from '@lrsweep/contract';

export type * from '@lrsweep/contract';
export { sweepEnded, trialLive, trialStatuses };

/** An answer other than 2xx, with the API's error body. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(`${status} ${body.code}: ${body.message}`);
  }
  get code() {
    return this.body.code;
  }
  get issues() {
    return this.body.issues ?? [];
  }
}

export interface ClientOptions {
  /** The API's address, e.g. http://127.0.0.1:3000 (or '' for the page's own origin). */
  baseUrl: string;
  token?: string;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | boolean | undefined>;
const qs = (q: Query = {}) => {
  const p = Object.entries(q)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return p.length ? `?${p.join('&')}` : '';
};

/** Every row of a cursor-paged listing, page after page (at most `maxPages`, 100 rows each). */
async function allPages<T>(
  page: (cursor: string | undefined) => Promise<{ rows: T[]; next: string | null }>,
  maxPages = 100,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const p = await page(cursor);
    out.push(...p.rows);
    if (!p.next) break;
    cursor = p.next;
  }
  return out;
}

/** The API's origin from what a user may write: with or without a trailing slash or `/v1`. */
export function apiOrigin(url: string): string {
  return url.trim().replace(/\/+$/, '').replace(/\/v1$/, '');
}

export function createClient(opts: ClientOptions) {
  const f = opts.fetch ?? fetch;
  const origin = apiOrigin(opts.baseUrl);
  async function call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const res = await f(`${origin}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) {
      let parsed: ApiErrorBody;
      try {
        parsed = JSON.parse(text) as ApiErrorBody;
      } catch {
        parsed = { code: 'HTTP_ERROR', message: text.slice(0, 200) || res.statusText };
      }
      throw new ApiRequestError(res.status, parsed);
    }
    return (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T;
  }

  return {
    submitSweep: (spec: SweepSpecInput, o: { idempotencyKey?: string } = {}) =>
      call<SweepCreated>('POST', '/v1/sweeps', spec, o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {}),
    /** Counts a spec's trials, or lists its problems, without submitting it. */
    validateSweep: (spec: SweepSpecInput) => call<ValidateAnswer>('POST', '/v1/sweeps/validate', spec),
    listSweeps: (q: { limit?: number; offset?: number } = {}) => call<SweepPage>('GET', `/v1/sweeps${qs(q)}`),
    getSweep: (id: string) => call<SweepDetail>('GET', `/v1/sweeps/${id}`),
    cancelSweep: (id: string) => call<CancelAnswer>('POST', `/v1/sweeps/${id}/cancel`),
    retrySweep: (id: string) => call<RetryAnswer>('POST', `/v1/sweeps/${id}/retry`),
    /** Grows a sweep: merges base LRs, schedules, seeds or trainer axes into its grid (SWEEP_API v1.1). */
    extendSweep: (id: string, body: ExtendSweep, o: { idempotencyKey?: string } = {}) =>
      call<SweepExtended>(
        'POST',
        `/v1/sweeps/${id}/extend`,
        body,
        o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {},
      ),
    /** Deletes a sweep with its trials and metrics (running trials stop as on cancel). */
    deleteSweep: (id: string) => call<{ deleted: true; id: string; trials: number }>('DELETE', `/v1/sweeps/${id}`),
    /** Every trial as CSV: config, outcome, test metrics and provenance. */
    trialsCsv: (id: string) => call<string>('GET', `/v1/sweeps/${id}/trials${qs({ format: 'csv' })}`),
    getTrial: (id: string) => call<Trial>('GET', `/v1/trials/${id}`),
    /** One page of the fleet (≤ 100; follow `nextCursor`, or use `listWorkers`). */
    workersPage: (q: { limit?: number; cursor?: string } = {}) => call<WorkersAnswer>('GET', `/v1/workers${qs(q)}`),
    /** The whole fleet, every page joined (up to `maxPages`): built-in workers first, then agents, most recently seen first. */
    async listWorkers(o: { maxPages?: number } = {}): Promise<WorkersAnswer> {
      const workers = await allPages(
        (cursor) =>
          call<WorkersAnswer>('GET', `/v1/workers${qs({ cursor })}`).then((p) => ({
            rows: p.workers,
            next: p.nextCursor,
          })),
        o.maxPages,
      );
      workers.sort((a, b) => b.kind.localeCompare(a.kind) || b.lastHeartbeatAt.localeCompare(a.lastHeartbeatAt));
      return { workers, nextCursor: null };
    },
    /** A trial's attempts: who ran each, on what backend, from when to when, how it ended. */
    trialAttempts: (id: string) => call<TrialAttempts>('GET', `/v1/trials/${id}/attempts`),
    listTrials: (id: string, q: { limit?: number; offset?: number; status?: Trial['status'] } = {}) =>
      call<TrialPage>('GET', `/v1/sweeps/${id}/trials${qs(q)}`),
    /** One page of a trial's metrics (follow `nextFrom`, or use `allTrialMetrics`). */
    trialMetrics: (id: string, q: { from?: number; to?: number; limit?: number } = {}) =>
      call<TrialMetrics>('GET', `/v1/trials/${id}/metrics${qs(q)}`),
    /** Every page of a trial's metrics, joined. */
    async allTrialMetrics(id: string, q: { from?: number; to?: number } = {}): Promise<TrialMetrics> {
      const out: TrialMetrics = { updates: [], evals: [], nextFrom: null };
      for (let from: number | null = q.from ?? 0; from !== null; ) {
        const page: TrialMetrics = await call<TrialMetrics>('GET', `/v1/trials/${id}/metrics${qs({ ...q, from })}`);
        out.updates.push(...page.updates);
        out.evals.push(...page.evals);
        from = page.nextFrom;
      }
      return out;
    },
    /** An LR range test's curve and the base-LR grid it suggests (409 for a grid sweep). */
    rangeTest: (id: string) => call<RangeTestView>('GET', `/v1/sweeps/${id}/range-test`),
    /** A transfer study's answer: η* per schedule and scale, the law across scales, the target (409: no scale axis). */
    transfer: (id: string, q: { targetWidth?: number; targetSteps?: number } = {}) =>
      call<TransferAnswer>('GET', `/v1/sweeps/${id}/transfer${qs(q)}`),
    results: (id: string, q: { metric?: MetricName; aggregate?: Aggregate; rankBy?: 'mean' | 'ci' } = {}) =>
      call<Results>('GET', `/v1/sweeps/${id}/results${qs(q)}`),
    resultsCsv: (id: string, q: { metric?: MetricName; aggregate?: Aggregate } = {}) =>
      call<string>('GET', `/v1/sweeps/${id}/results${qs({ ...q, format: 'csv' })}`),
    schedules: (
      id: string,
      q: { metric?: MetricName; aggregate?: Aggregate; tolerance?: number; alpha?: number } = {},
    ) => call<ScheduleAnalysis>('GET', `/v1/sweeps/${id}/schedules${qs(q)}`),
    curves: (id: string, q: { metric?: MetricName; configs?: string[]; points?: number } = {}) =>
      call<Curves>('GET', `/v1/sweeps/${id}/curves${qs({ ...q, configs: q.configs?.join(',') })}`),
    /** The project's agents (external trainers), every page joined, most recently seen first: last heartbeat, alive, the trial each holds. */
    async listAgents(o: { maxPages?: number } = {}): Promise<{ agents: AgentView[] }> {
      const agents = await allPages(
        (cursor) =>
          call<{ agents: AgentView[]; nextCursor: string | null }>('GET', `/v1/agents${qs({ cursor })}`).then((p) => ({
            rows: p.agents,
            next: p.nextCursor,
          })),
        o.maxPages,
      );
      return { agents: agents.sort((a, b) => b.lastHeartbeatAt.localeCompare(a.lastHeartbeatAt)) };
    },
    /** A pool's ready backlog in the token's project (an autoscaler's demand). */
    poolBacklog: (pool: string, q: { runner?: 'builtin' | 'external' } = {}) =>
      call<PoolBacklog>('GET', `/v1/pools/${encodeURIComponent(pool)}/backlog${qs(q)}`),
    /** Takes or renews the pool's scaler lease; `granted: false` names its holder. */
    scalerLease: (pool: string, body: { holder: string; ttlMs?: number }) =>
      call<ScalerLease>('POST', `/v1/pools/${encodeURIComponent(pool)}/scaler`, body),
    releaseScaler: (pool: string, holder: string) =>
      call<{ released: boolean }>('DELETE', `/v1/pools/${encodeURIComponent(pool)}/scaler${qs({ holder })}`),
    previewSchedule: (req: PreviewRequest) => call<Preview>('POST', '/v1/schedules/preview', req),
    createToken: (req: CreateTokenRequest) => call<CreatedToken>('POST', '/v1/admin/tokens', req),
    listTokens: (projectId?: string) => call<{ tokens: TokenView[] }>('GET', `/v1/admin/tokens${qs({ projectId })}`),
    revokeToken: (id: string) => call<{ id: string; revoked: true }>('POST', `/v1/admin/tokens/${id}/revoke`),
    /** Polls a sweep until it has ended (completed, failed or cancelled), reporting each state. */
    async follow(id: string, onProgress: (s: SweepDetail) => void, everyMs = 1000): Promise<SweepDetail> {
      for (;;) {
        const s = await call<SweepDetail>('GET', `/v1/sweeps/${id}`);
        onProgress(s);
        if (sweepEnded(s.status)) return s;
        await new Promise((r) => setTimeout(r, everyMs));
      }
    },
  };
}
export type LrsweepClient = ReturnType<typeof createClient>;
