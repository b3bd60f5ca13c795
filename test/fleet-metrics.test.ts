// What a fleet is run by, against a real sweep: the backlog KEDA scales a pool on (queued →
// running → drained, from Postgres), and the Prometheus metrics of the API and of a worker,
// each checked against Postgres.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, type RunningProcess, type Stack, startStack, startWorker, tinySpec } from '@lrsweep/testkit';

/** Prometheus text → samples. */
function parse(text: string) {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}
const value = (samples: ReturnType<typeof parse>, name: string, labels: Record<string, string> = {}) =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);

describe('fleet metrics and the scaling backlog', () => {
  let stack: Stack;
  let worker: RunningProcess | undefined;
  beforeAll(async () => {
    stack = await startStack('fleet-metrics', { workers: 0 });
  }, 60_000);
  afterAll(async () => {
    await worker?.stop();
    await stack?.stop();
  });

  it('serves the pool backlog through a sweep, and metrics that agree with Postgres', async () => {
    const backlog = async () =>
      (await fetch(`${stack.api.url}/scaling/backlog?pool=scale`)).json() as Promise<{
        queued: number;
        running: number;
        backlog: number;
      }>;
    const scrape = async (url: string) => parse(await (await fetch(url)).text());
    expect(await backlog()).toEqual({ pool: 'scale', queued: 0, running: 0, backlog: 0 });
    const created = await stack.lrsweep.submitSweep(
      tinySpec({
        name: 'scaled',
        runner: { kind: 'builtin', pool: 'scale' },
        dataset: { trainSize: 800, testSize: 64 },
        training: { batchSize: 40, evalEvery: 5 },
        grid: { baseLr: [0.01, 0.03, 0.1], schedule: [{ kind: 'constant' }, { kind: 'cosine' }] },
      }) as never,
    );
    // Queued: nobody serves the pool yet, so the whole sweep is its backlog.
    expect(await backlog()).toEqual({ pool: 'scale', queued: 6, running: 0, backlog: 6 });
    let api = await scrape(`${stack.api.url}/metrics`);
    expect(value(api, 'lrsweep_pool_backlog', { pool: 'scale' })).toBe(6);
    expect(value(api, 'lrsweep_trials', { pool: 'scale', status: 'queued' })).toBe(6);
    // BullMQ holds the six deliveries (waiting or prioritized: a wait-list LLEN alone could read 0).
    expect(
      value(api, 'lrsweep_queue_jobs', { pool: 'scale', state: 'waiting' }) +
        value(api, 'lrsweep_queue_jobs', { pool: 'scale', state: 'prioritized' }),
    ).toBe(6);

    // Running: a worker of the pool takes them one at a time; drained: nothing left.
    worker = await startWorker({
      ...stack.env,
      WORKER_ID: 'scale-1',
      WORKER_POOLS: 'scale',
      WORKER_SLOTS: '1',
      WORKER_HEALTH_PORT: '0',
      // No flush before a trial's end: each trial's rows go with its end (the engine's second transaction).
      METRICS_FLUSH_MS: '60000',
    });
    const line = await worker.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('worker health at'));
    const workerMetrics = String(line.msg).replace('worker health at ', '').replace('/healthz', '/metrics');
    const seen: { queued: number; running: number; backlog: number }[] = [];
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
      const b = await backlog();
      seen.push(b);
      if (b.backlog === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen.at(-1)!.backlog).toBe(0);
    expect(seen.some((b) => b.running === 1 && b.queued < 6)).toBe(true);
    // Running: the trial on the slot, and any whose end is still being recorded beside it (the
    // slot is handed back once its thread is done; at most 4 ends wait before it holds).
    expect(
      seen.every((b) => b.running <= 1 + 4 && b.backlog === b.queued + b.running),
      JSON.stringify(seen),
    ).toBe(true);
    // Backlog never grows while the sweep drains.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.backlog).toBeLessThanOrEqual(seen[i - 1]!.backlog);

    await stack.lrsweep.getSweep(created.id);
    api = await scrape(`${stack.api.url}/metrics`);
    const [pg] = await query<{ completed: number; updates: number; evals: number }>(
      stack.db.url,
      `SELECT (SELECT count(*) FROM trials WHERE sweep_id = $1 AND status = 'completed')::int AS completed,
              (SELECT count(*) FROM update_metrics u JOIN trials t ON t.id = u.trial_id WHERE t.sweep_id = $1)::int AS updates,
              (SELECT count(*) FROM evaluations e JOIN trials t ON t.id = e.trial_id WHERE t.sweep_id = $1)::int AS evals`,
      [created.id],
    );
    expect(pg!.completed).toBe(6);
    expect(value(api, 'lrsweep_trials', { pool: 'scale', status: 'completed' })).toBe(pg!.completed);
    expect(value(api, 'lrsweep_pool_backlog', { pool: 'scale' })).toBe(0);
    expect(
      value(api, 'lrsweep_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/v1/sweeps/:id',
        status_code: '200',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value(api, 'lrsweep_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/v1/sweeps',
        status_code: '201',
      }),
    ).toBe(1);
    const w = await scrape(workerMetrics);
    expect(value(w, 'lrsweep_metric_rows_written_total', { kind: 'updates' })).toBe(pg!.updates);
    expect(value(w, 'lrsweep_metric_rows_written_total', { kind: 'evaluations' })).toBe(pg!.evals);
    expect(value(w, 'lrsweep_trial_duration_seconds_count', { outcome: 'completed' })).toBe(6);
    expect(value(w, 'lrsweep_trial_claim_latency_seconds_count')).toBe(6);
    expect(value(w, 'lrsweep_worker_running_trials')).toBe(0);
    expect(value(w, 'lrsweep_worker_slots')).toBe(1);
    // The engine's own count: two transactions a trial (its claim; its end with its last rows and
    // run info), and two for the sweep (the first trial reads its shapes and records its numerics key).
    expect(value(w, 'lrsweep_engine_transactions_total')).toBe(2 * 6 + 2);
    const info = await query<{ backend: string | null }>(
      stack.db.url,
      'SELECT backend FROM trials WHERE sweep_id = $1',
      [created.id],
    );
    expect(info.map((r) => r.backend)).toEqual(Array(6).fill('wasm'));
    expect(w.find((s) => s.name === 'lrsweep_worker_info')?.labels).toMatchObject({
      pool: 'scale',
      backend: 'wasm',
      device: 'cpu',
    });
    // No label names a project.
    for (const s of [...api, ...w]) expect(Object.keys(s.labels)).not.toContain('project');
    expect(JSON.stringify([...api, ...w].map((s) => s.labels))).not.toContain('default"');
  }, 180_000);
});
