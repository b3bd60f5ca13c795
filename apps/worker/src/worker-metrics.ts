// What a worker tells Prometheus (prom-client, its own registry; no token, no project names):
// what it is, what it runs, how long trials take and wait, how fast metric rows reach Postgres.
import { engineTransactions } from '@lrsweep/engine';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createWorkerMetrics(info: {
  workerId: string;
  pools: string[];
  backend: string;
  device: string;
  slots: number;
  version: string;
}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'lrsweep_worker_process_' });
  const registers = [registry];
  const workerInfo = new Gauge({
    name: 'lrsweep_worker_info',
    help: 'One per worker process: its pools, backend and device',
    labelNames: ['pool', 'backend', 'device', 'version'],
    registers,
  });
  for (const pool of info.pools)
    workerInfo.set({ pool, backend: info.backend, device: info.device, version: info.version }, 1);
  new Gauge({ name: 'lrsweep_worker_slots', help: 'Training slots of this worker', registers }).set(info.slots);
  const running = new Gauge({
    name: 'lrsweep_worker_running_trials',
    help: 'Trials this worker is training now',
    registers,
  });
  const duration = new Histogram({
    name: 'lrsweep_trial_duration_seconds',
    help: 'Wall time of a trial attempt on this worker, from claim to its end, by outcome',
    labelNames: ['outcome'],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600],
    registers,
  });
  const claimLatency = new Histogram({
    name: 'lrsweep_trial_claim_latency_seconds',
    help: 'From a delivery being enqueued to this worker claiming the trial',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600],
    registers,
  });
  const rows = new Counter({
    name: 'lrsweep_metric_rows_written_total',
    help: 'Metric rows this worker stored in Postgres, by kind',
    labelNames: ['kind'],
    registers,
  });
  const lag = new Histogram({
    name: 'lrsweep_metric_write_lag_seconds',
    help: 'From a metric row being produced to it being stored in Postgres',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60],
    registers,
  });
  new Counter({
    name: 'lrsweep_engine_transactions_total',
    help: 'Postgres transactions the trial engine ran in this process (two a trial on the happy path: its claim, and its end with its last rows)',
    registers,
    collect() {
      this.reset();
      this.inc(engineTransactions());
    },
  });
  return {
    registry,
    claimed(enqueuedAtMs: number) {
      claimLatency.observe(Math.max(0, (Date.now() - enqueuedAtMs) / 1000));
      running.inc();
    },
    ended(startedAtMs: number, outcome: string) {
      running.dec();
      duration.observe({ outcome }, (Date.now() - startedAtMs) / 1000);
    },
    written(kind: 'updates' | 'evaluations', n: number, producedAtMs: number) {
      rows.inc({ kind }, n);
      lag.observe(Math.max(0, (Date.now() - producedAtMs) / 1000));
    },
  };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
