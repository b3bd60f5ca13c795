// What the API tells Prometheus and KEDA (prom-client, its own registry; no token, and no project
// names in any label): trials by pool and status and each pool's backlog from Postgres, BullMQ's
// queue depth by pool and state, reconciler re-enqueues, HTTP latency by route.
import { type Db, liveQueues, poolBacklog, trialCountsByPool } from '@lrsweep/db';
import { engineTransactions } from '@lrsweep/engine';
import type { TrialQueue } from '@lrsweep/queue';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { within } from './services/sweep-service';

export function createApiMetrics(deps: { db: Db; queue: TrialQueue }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'lrsweep_api_process_' });
  const registers = [registry];
  const http = new Histogram({
    name: 'lrsweep_http_request_duration_seconds',
    help: 'API request latency by method, route (its pattern) and status code',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 20],
    registers,
  });
  new Counter({
    name: 'lrsweep_engine_transactions_total',
    help: "Postgres transactions the trial engine ran in this process (agents' trials, the reconciler)",
    registers,
    collect() {
      this.reset();
      this.inc(engineTransactions());
    },
  });
  const reenqueued = new Counter({
    name: 'lrsweep_reconciler_reenqueued_total',
    help: 'Trials the reconciler delivered again because Redis had lost their job',
    registers,
  });
  new Gauge({
    name: 'lrsweep_trials',
    help: 'Trials by pool and status (Postgres)',
    labelNames: ['pool', 'status'],
    registers,
    async collect() {
      const rows = await trialCountsByPool(deps.db);
      this.reset();
      for (const r of rows) this.set({ pool: r.pool, status: r.status }, r.n);
    },
  });
  new Gauge({
    name: 'lrsweep_pool_backlog',
    help: "A pool's queued + running trials (Postgres): what its workers scale on",
    labelNames: ['pool'],
    registers,
    async collect() {
      const rows = await poolBacklog(deps.db);
      this.reset();
      for (const r of rows) this.set({ pool: r.pool }, r.queued + r.running);
    },
  });
  const scrapeErrors = new Counter({
    name: 'lrsweep_metrics_scrape_errors_total',
    help: 'Parts of a scrape that could not be read (e.g. Redis did not answer)',
    labelNames: ['source'],
    registers,
  });
  new Gauge({
    name: 'lrsweep_queue_jobs',
    help: "BullMQ's jobs by pool and state, summed over the projects' queues of the pool",
    labelNames: ['pool', 'state'],
    registers,
    async collect() {
      this.reset();
      try {
        const queues = await liveQueues(deps.db);
        // A frozen Redis must not hang a scrape.
        const counts = await within(
          Promise.all(queues.map((q) => deps.queue.jobCounts(q))),
          1500,
          'reading the queues',
        );
        const sum = new Map<string, Record<string, number>>();
        queues.forEach((q, i) => {
          const acc = sum.get(q.pool) ?? {};
          for (const [state, n] of Object.entries(counts[i]!)) acc[state] = (acc[state] ?? 0) + n;
          sum.set(q.pool, acc);
        });
        for (const [pool, byState] of sum)
          for (const [state, n] of Object.entries(byState)) this.set({ pool, state }, n);
      } catch {
        scrapeErrors.inc({ source: 'redis' });
      }
    },
  });
  return {
    registry,
    reenqueued,
    /** Records one answered request (its route pattern, never its parameters). */
    observe(method: string, route: string, statusCode: number, seconds: number) {
      http.observe({ method, route, status_code: String(statusCode) }, seconds);
    },
    /**
     * A pool's backlog as KEDA's metrics-api trigger reads it: the sweeps of one kind of runner
     * (the built-in workers' by default: agents' sweeps are no demand for workers), every project.
     */
    async backlog(pool: string, runner: 'builtin' | 'external' = 'builtin') {
      const [row] = await poolBacklog(deps.db, { pool, runner });
      const queued = row?.queued ?? 0;
      const running = row?.running ?? 0;
      return { pool, queued, running, backlog: queued + running };
    },
  };
}
export type ApiMetrics = ReturnType<typeof createApiMetrics>;
