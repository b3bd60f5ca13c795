import { arch, cpus } from 'node:os';
import {
  claimTrial,
  type Db,
  finishTrial,
  recordRunInfo,
  releaseTrial,
  renewLease,
  trialState,
} from '@lrsweep/db';
import { DelayedError, type Job, type RunTrialPayload, type TrialQueue } from '@lrsweep/queue';
import type { TrialConfig } from '@lrsweep/sweep';
import type { Dataset, DatasetRequest, TrainConfig } from '@lrsweep/trainer';
import type { ScheduleSpec } from '@lrsweep/schedules';
import type { Logger } from 'pino';
import { createMetricSink } from './metric-sink';
import { TrainingError, type TrainingSlot } from './training-slot';

export interface TrialRunnerDeps {
  db: Db;
  queue: TrialQueue;
  log: Logger;
  workerId: string;
  leaseMs: number;
  flushMs: number;
  lrsweepVersion: string;
  datasets: { get(req: DatasetRequest): Dataset };
  slots: { acquire(): Promise<TrainingSlot>; release(slot: TrainingSlot): void };
  /** True once the process is shutting down: running trials stop and go back to the queue. */
  shuttingDown(): boolean;
}

/** The metric a plateau schedule observes, wherever it sits in the spec. */
function plateauMetricOf(s: ScheduleSpec): TrainConfig['plateauMetric'] {
  if (s.kind === 'reduce_on_plateau') return s.metric;
  if (s.kind === 'sequential') {
    for (const p of s.parts) {
      const m = plateauMetricOf(p);
      if (m) return m;
    }
  }
  return undefined;
}

/**
 * Handles one delivery of a trial: claims it in Postgres (compare-and-set), trains it on a slot's
 * thread while a lease is renewed and metrics stream to Postgres, and records the outcome.
 */
export function createTrialRunner(d: TrialRunnerDeps) {
  return async function runTrial(payload: RunTrialPayload, job: Job, token: string | undefined) {
    const { trialId, sweepId } = payload;
    const claimed = await claimTrial(d.db, trialId, d.workerId, d.leaseMs);
    if (!claimed) {
      const state = await trialState(d.db, trialId);
      if (state?.status === 'running' && state.leaseExpiresAt && !state.sweepCancelled) {
        // Another worker holds it. Look again once its lease could have lapsed: if that worker
        // dies, this delivery picks the trial up; if it finishes, this delivery is dropped.
        await job.moveToDelayed(state.leaseExpiresAt.getTime() + 1000, token);
        throw new DelayedError();
      }
      d.log.info({ trialId, sweepId, status: state?.status ?? 'missing' }, 'delivery skipped: trial not claimable');
      return { skipped: true };
    }
    const log = d.log.child({ sweepId, trialId, attempt: claimed.attempt });
    const config = claimed.config as TrialConfig;
    let dataset: Dataset;
    try {
      dataset = d.datasets.get(config.dataset);
    } catch (err) {
      log.error({ err }, 'dataset could not be loaded');
      await finishTrial(d.db, trialId, claimed.attempt, 'failed', { error: `dataset: ${(err as Error).message}` });
      return { failed: true };
    }
    const slot = await d.slots.acquire();
    const sink = createMetricSink({ db: d.db, trialId, attempt: claimed.attempt, flushMs: d.flushMs, log });
    let lostLease = false;
    let stopRun: (() => void) | null = null;
    const renew = setInterval(() => {
      renewLease(d.db, trialId, claimed.attempt, d.leaseMs)
        .then((ok) => {
          if (!ok) {
            lostLease = true;
            stopRun?.();
          }
        })
        .catch((err) => log.warn({ err: (err as Error).message }, 'lease renewal failed'));
      if (d.shuttingDown()) stopRun?.();
    }, Math.max(200, Math.floor(d.leaseMs / 3)));
    const started = Date.now();
    try {
      const running = await slot.run(
        {
          model: config.model,
          optimizer: config.optimizer,
          training: config.training,
          baseLr: config.baseLr,
          schedule: config.schedule,
          seed: config.seed,
          plateauMetric: plateauMetricOf(config.schedule),
        },
        dataset,
        { onUpdates: (rows) => sink.addUpdates(rows), onEval: (row) => sink.addEval(row) },
      );
      stopRun = running.stop;
      if (d.shuttingDown()) running.stop();
      await recordRunInfo(d.db, trialId, claimed.attempt, {
        lrsweepVersion: d.lrsweepVersion,
        tfjsVersion: slot.tfjsVersion,
        backend: slot.backend?.name ?? 'unknown',
        datasetChecksum: dataset.checksum,
        hardware: { cpuModel: cpus()[0]?.model ?? arch(), cpuCount: cpus().length, gpu: slot.backend?.gpu ? 'cuda' : null },
      });
      const { result, numTensors } = await running.done;
      const { fenced } = await sink.close();
      if (fenced || lostLease) {
        log.warn('a newer attempt owns this trial; this attempt stops without recording');
        return { superseded: true };
      }
      if (result.status === 'stopped') {
        // Shutting down: give the trial back and deliver it afresh (a release is not a failure).
        await releaseTrial(d.db, trialId, claimed.attempt);
        await d.queue.enqueueTrials([{ trialId, sweepId }], claimed.attempt);
        log.info({ step: result.stepsDone }, 'trial released for another worker');
        return { released: true };
      }
      const status = result.status === 'diverged' ? 'diverged' : 'completed';
      await finishTrial(d.db, trialId, claimed.attempt, status, result);
      log.info(
        { status, steps: result.stepsDone, finalValLoss: result.finalValLoss, ms: Date.now() - started, numTensors },
        'trial finished',
      );
      return { status };
    } catch (err) {
      if (err instanceof TrainingError) {
        log.error({ err: err.message }, 'trial failed');
        await sink.close().catch(() => {});
        await finishTrial(d.db, trialId, claimed.attempt, 'failed', { error: err.message });
        return { failed: true };
      }
      // Infrastructure (Postgres, the thread): hand the trial back; BullMQ retries the delivery.
      log.error({ err }, 'trial interrupted; will be retried');
      await releaseTrial(d.db, trialId, claimed.attempt).catch(() => {});
      throw err;
    } finally {
      clearInterval(renew);
      d.slots.release(slot);
    }
  };
}
