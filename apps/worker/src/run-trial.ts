import { arch, cpus } from 'node:os';
import {
  claimTrial,
  type Db,
  finishTrial,
  recordCheckpoint,
  recordRunInfo,
  releaseTrial,
  renewLease,
  trialState,
} from '@lrsweep/db';
import { DelayedError, type Job, type RunTrialPayload, type TrialQueue } from '@lrsweep/queue';
import type { TrialConfig } from '@lrsweep/sweep';
import type { Dataset, DatasetRequest, TrainerState } from '@lrsweep/trainer';
import type { Logger } from 'pino';
import type { CheckpointFiles } from './checkpoint-files';
import { createMetricSink } from './metric-sink';
import { trainConfigOf } from './train-config';
import { TrainingError, type TrainingSlot } from './training-slot';

export interface TrialRunnerDeps {
  db: Db;
  queue: TrialQueue;
  log: Logger;
  workerId: string;
  leaseMs: number;
  flushMs: number;
  /** Take a checkpoint every this many updates. */
  checkpointEvery: number;
  checkpoints: CheckpointFiles;
  lrsweepVersion: string;
  datasets: { get(req: DatasetRequest): Dataset };
  slots: { acquire(): Promise<TrainingSlot>; release(slot: TrainingSlot): void };
  /** True once the process is shutting down: running trials checkpoint, stop and go back to the queue. */
  shuttingDown(): boolean;
}

/**
 * Handles one delivery of a trial: claims it in Postgres (compare-and-set), resumes it from its
 * last checkpoint if an earlier attempt left one, trains it on a slot's thread while a lease is
 * renewed, metrics stream to Postgres and checkpoints are recorded, and stores the outcome.
 */
export function createTrialRunner(d: TrialRunnerDeps) {
  async function redeliver(trialId: string, sweepId: string, attempt: number): Promise<boolean> {
    const jobId = await releaseTrial(d.db, trialId, attempt, { newDelivery: true });
    if (jobId) await d.queue.enqueueTrials([{ trialId, sweepId, jobId }]);
    return jobId !== null;
  }

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
    if (d.shuttingDown()) {
      await redeliver(trialId, sweepId, claimed.attempt);
      return { released: true };
    }
    const config = claimed.config as TrialConfig;
    let dataset: Dataset;
    try {
      dataset = d.datasets.get(config.dataset);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'dataset could not be loaded; the trial fails');
      await finishTrial(d.db, trialId, claimed.attempt, 'failed', { error: `dataset: ${(err as Error).message}` });
      return { failed: true };
    }
    let resume: TrainerState | undefined;
    if (claimed.checkpointPath) {
      try {
        resume = await d.checkpoints.read(claimed.checkpointPath);
        log.info({ step: resume.step }, 'resuming from checkpoint');
      } catch (err) {
        // Starting over is still correct: the run is deterministic and rewrites every row.
        log.warn({ err: (err as Error).message, path: claimed.checkpointPath }, 'checkpoint unreadable; starting over');
      }
    }

    const slot = await d.slots.acquire();
    let stopRun: (() => void) | null = null;
    let lostOwnership = false;
    const sink = createMetricSink({
      db: d.db,
      trialId,
      attempt: claimed.attempt,
      flushMs: d.flushMs,
      log,
      onFenced: () => {
        lostOwnership = true;
        stopRun?.();
      },
    });
    // Checkpoints are recorded one after another, each once the rows before it are stored.
    let checkpointChain: Promise<void> = Promise.resolve();
    let lastCheckpoint = claimed.checkpointPath;
    const onCheckpoint = (state: TrainerState) => {
      checkpointChain = checkpointChain.then(async () => {
        try {
          await sink.flushAll();
          if (sink.fenced) return;
          const path = await d.checkpoints.write(trialId, claimed.attempt, state);
          if (await recordCheckpoint(d.db, trialId, claimed.attempt, path, state.step)) {
            if (lastCheckpoint && lastCheckpoint !== path) await d.checkpoints.remove(lastCheckpoint);
            lastCheckpoint = path;
            log.debug({ step: state.step }, 'checkpoint recorded');
          } else await d.checkpoints.remove(path);
        } catch (err) {
          log.warn({ err: (err as Error).message, step: state.step }, 'checkpoint failed; training goes on');
        }
      });
    };
    const renew = setInterval(() => {
      renewLease(d.db, trialId, claimed.attempt, d.leaseMs)
        .then((ok) => {
          if (!ok) {
            lostOwnership = true;
            stopRun?.();
          }
        })
        .catch((err) => log.warn({ err: (err as Error).message }, 'lease renewal failed'));
      if (d.shuttingDown()) stopRun?.();
    }, Math.max(100, Math.floor(d.leaseMs / 3)));
    const started = Date.now();
    try {
      const running = await slot.run(
        trainConfigOf(config),
        dataset,
        { onUpdates: (rows) => sink.addUpdates(rows), onEval: (row) => sink.addEval(row), onCheckpoint },
        { resume, checkpointEvery: d.checkpointEvery },
      );
      stopRun = running.stop;
      if (d.shuttingDown() || lostOwnership) running.stop();
      await recordRunInfo(d.db, trialId, claimed.attempt, {
        lrsweepVersion: d.lrsweepVersion,
        tfjsVersion: slot.tfjsVersion,
        backend: slot.backend?.name ?? 'unknown',
        datasetChecksum: dataset.checksum,
        hardware: { cpuModel: cpus()[0]?.model ?? arch(), cpuCount: cpus().length, gpu: slot.backend?.gpu ? 'cuda' : null },
      });
      const { result, numTensors, timing } = await running.done;
      await checkpointChain;
      const { fenced } = await sink.close();
      if (fenced || lostOwnership) {
        log.warn('the trial is no longer this attempt\'s (cancelled, or a newer attempt owns it); stopping without recording');
        return { superseded: true };
      }
      if (result.status === 'stopped') {
        // Shutting down: hand the trial back with a new delivery (a release is not a failure).
        await redeliver(trialId, sweepId, claimed.attempt);
        log.info({ step: result.stepsDone }, 'trial checkpointed and released for another worker');
        return { released: true };
      }
      const status = result.status === 'diverged' ? 'diverged' : 'completed';
      await finishTrial(d.db, trialId, claimed.attempt, status, { ...result, trainingStartedAt: new Date(timing.startedAt), trainMs: timing.ms });
      await d.checkpoints.removeTrial(trialId).catch(() => {});
      log.info(
        {
          status,
          steps: result.stepsDone,
          resumedFrom: resume?.step ?? 0,
          finalValLoss: result.finalValLoss,
          ms: Date.now() - started,
          trainMs: Math.round(timing.ms),
          hostMs: Math.round(timing.hostMs),
          numTensors,
        },
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
      log.error({ err: (err as Error).message }, 'trial interrupted; will be retried');
      await releaseTrial(d.db, trialId, claimed.attempt, { newDelivery: false }).catch(() => null);
      throw err;
    } finally {
      clearInterval(renew);
      d.slots.release(slot);
    }
  };
}
