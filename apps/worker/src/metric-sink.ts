import type { Db, EvalRow, RunInfo, UpdateRow } from '@lrsweep/db';
import { recordRunInfo, refreshTrialSummary, writeEvaluations, writeMetrics, writeUpdates } from '@lrsweep/engine';
import type { Logger } from 'pino';

export interface MetricSinkOptions {
  db: Db;
  trialId: string;
  attempt: number;
  flushMs: number;
  log: Logger;
  /** How long a batch is retried while Postgres is unreachable before the sink gives up. */
  retryForMs?: number;
  /** Called once when a write is refused because a newer attempt (or a cancel) owns the trial. */
  onFenced?: () => void;
  /** Called once when a write failed for good (Postgres unreachable for `retryForMs`): the attempt cannot be recorded. */
  onFailed?: (err: Error) => void;
  /** Told of every batch stored: its kind, its rows, and when its oldest row was produced. */
  onWritten?: (kind: 'updates' | 'evaluations', rows: number, producedAtMs: number) => void;
}

const BATCH = 1000;
/** How long a write is retried while Postgres is unreachable, unless told otherwise: metric rows and an attempt's end alike. */
export const unreachableRetryMs = 120_000;

/** Retries a write while Postgres is unreachable (backoff 100 ms … 2 s) for up to `forMs`, saying so; then throws. */
export async function retryWhileUnreachable<T>(
  log: Pick<Logger, 'warn'>,
  forMs: number,
  what: string,
  write: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + forMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await write();
    } catch (err) {
      if (Date.now() + delay > deadline) throw err;
      log.warn({ err: (err as Error).message, retryInMs: delay }, what);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/**
 * Buffers a trial's metric rows and writes them in batches on a timer, so training never waits
 * on Postgres. A batch leaves the buffer only once written: while Postgres is down the rows wait
 * and the write is retried with backoff. Writes refused because a newer attempt owns the trial
 * mark the sink `fenced`.
 */
export function createMetricSink(o: MetricSinkOptions) {
  const updates: UpdateRow[] = [];
  const evals: EvalRow[] = [];
  // When each buffered row was produced (for the write-lag metric).
  const updateTimes: number[] = [];
  const evalTimes: number[] = [];
  let fenced = false;
  // Where the attempt runs, until a flush records it (or the attempt's end does, with its last rows).
  let runInfo: RunInfo | null = null;
  let error: Error | null = null;
  let inflight: Promise<void> | null = null;
  // Closing for a finish: the finishing statement computes the summaries itself.
  let summarize = true;
  const retryForMs = o.retryForMs ?? unreachableRetryMs;

  const withRetry = (write: () => Promise<boolean>) =>
    retryWhileUnreachable(o.log, retryForMs, 'metric write failed; retrying', write);

  const fence = () => {
    if (!fenced) o.onFenced?.();
    fenced = true;
  };

  const drain = async () => {
    if (runInfo && !fenced) {
      const info = runInfo;
      await withRetry(async () => (await recordRunInfo(o.db, o.trialId, o.attempt, info), true));
      if (runInfo === info) runInfo = null;
    }
    while (!fenced && (updates.length || evals.length)) {
      if (updates.length && evals.length && updates.length <= BATCH && evals.length <= BATCH) {
        // Both kinds at once (a trial's last batch, mostly): one round trip.
        const u = updates.length;
        const e = evals.length;
        if (!(await withRetry(() => writeMetrics(o.db, o.trialId, o.attempt, updates.slice(0, u), evals.slice(0, e)))))
          fence();
        else {
          o.onWritten?.('updates', u, updateTimes[0] ?? Date.now());
          o.onWritten?.('evaluations', e, evalTimes[0] ?? Date.now());
          if (summarize) await withRetry(() => refreshTrialSummary(o.db, o.trialId, o.attempt));
        }
        updates.splice(0, u);
        updateTimes.splice(0, u);
        evals.splice(0, e);
        evalTimes.splice(0, e);
      } else if (updates.length) {
        const batch = updates.slice(0, BATCH);
        if (!(await withRetry(() => writeUpdates(o.db, o.trialId, o.attempt, batch)))) fence();
        else o.onWritten?.('updates', batch.length, updateTimes[0] ?? Date.now());
        updates.splice(0, batch.length);
        updateTimes.splice(0, batch.length);
      } else {
        const batch = evals.slice(0, BATCH);
        if (!(await withRetry(() => writeEvaluations(o.db, o.trialId, o.attempt, batch)))) fence();
        // The trial's summaries follow its evaluations as they arrive (provisional rankings).
        else {
          o.onWritten?.('evaluations', batch.length, evalTimes[0] ?? Date.now());
          if (summarize) await withRetry(() => refreshTrialSummary(o.db, o.trialId, o.attempt));
        }
        evals.splice(0, batch.length);
        evalTimes.splice(0, batch.length);
      }
    }
  };

  const flush = (): Promise<void> => {
    inflight ??= drain()
      .catch((err: Error) => {
        if (!error) o.onFailed?.(err);
        error = err;
      })
      .finally(() => {
        inflight = null;
      });
    return inflight;
  };

  const timer = setInterval(() => void flush(), o.flushMs);
  timer.unref();

  return {
    /** Where the attempt runs: recorded with the next flush, or handed to the attempt's end. */
    setRunInfo(info: RunInfo) {
      runInfo = info;
    },
    addUpdates(rows: readonly { step: number; lr: number; trainLoss: number }[]) {
      const now = Date.now();
      for (const r of rows) {
        updates.push({ step: r.step, lr: r.lr, trainLoss: r.trainLoss });
        updateTimes.push(now);
      }
    },
    addEval(row: EvalRow) {
      evals.push(row);
      evalTimes.push(Date.now());
    },
    get fenced() {
      return fenced;
    },
    /** Resolves once every row added so far is stored (or the sink is fenced); throws on failure. */
    async flushAll(): Promise<void> {
      while (inflight || (!fenced && !error && (updates.length || evals.length))) await flush();
      if (error) throw error;
    },
    /**
     * Writes everything still buffered; throws when Postgres stayed unreachable. `summarize:
     * false` when the trial's end is recorded next (that computes its summaries).
     */
    async close(opts: { summarize?: boolean } = {}): Promise<{ fenced: boolean }> {
      clearInterval(timer);
      summarize = opts.summarize ?? true;
      await this.flushAll();
      return { fenced };
    },
    /**
     * For an attempt that ends now (completed, diverged): stops flushing and hands over what is
     * still buffered — rows and run info — for the end to write in its one transaction (the
     * engine's `finishTrial`), so a short trial costs its claim and its end, nothing more.
     */
    async handOver(): Promise<{
      fenced: boolean;
      rest: { updates: UpdateRow[]; evals: EvalRow[]; runInfo?: RunInfo };
    }> {
      clearInterval(timer);
      while (inflight) await inflight;
      if (error) throw error;
      const rest = { updates: updates.splice(0), evals: evals.splice(0), ...(runInfo ? { runInfo } : {}) };
      updateTimes.splice(0);
      evalTimes.splice(0);
      runInfo = null;
      return { fenced, rest };
    },
  };
}
export type MetricSink = ReturnType<typeof createMetricSink>;
