// What an attempt came to, recorded in Postgres: completed or diverged, paused at an ASHA rung,
// released (shutdown), failed (and retried or not), or nothing (superseded).
import { isRetryable, type TrialFailure, TrialError } from '@lrsweep/contract';
import type { FinalWrites } from '@lrsweep/db';
import { type ClaimedTrial, failAttempt, finishTrial, releaseTrial, trialState } from '@lrsweep/engine';
import type { BuiltinTrialConfig } from '@lrsweep/sweep';
import type { Dataset, TrainerState } from '@lrsweep/trainer';
import type { Logger } from 'pino';
import { retryWhileUnreachable, unreachableRetryMs } from './metric-sink';
import { type Phases, rounded, timed } from './phases';
import type { TrialRunnerDeps } from './run-trial';
import { paused } from './search-steps';
import type { RunningTrial } from './training-slot';

/** The process's resident memory in MB (a trial's backend memory is part of it). */
export const rssMb = () => Math.round(process.memoryUsage.rss() / 2 ** 20);

/** What an attempt came to, once its end is recorded. */
export interface TrialOutcome {
  skipped?: boolean;
  status?: 'completed' | 'diverged' | 'paused';
  released?: boolean;
  superseded?: boolean;
  retried?: boolean;
  failed?: boolean;
}

export interface TrainedRun {
  outcome: Awaited<RunningTrial['done']>;
  /** A newer attempt or a cancel took the trial while it trained: nothing is recorded. */
  superseded: boolean;
  dataset: Dataset;
  startedMs: number;
  /** A run that ends now: the rows and run info still to write, with its end, in one transaction. */
  rest?: FinalWrites;
}

/** Stores what the run came to: completed or diverged, or released (shutdown), or nothing (superseded). */
export async function record(
  d: TrialRunnerDeps,
  claimed: ClaimedTrial,
  run: TrainedRun,
  resume: TrainerState | undefined,
  log: Logger,
  phases: Phases,
): Promise<TrialOutcome> {
  const { result, numTensors, timing } = run.outcome;
  if (run.superseded) {
    log.warn(
      "the trial is no longer this attempt's (cancelled, or a newer attempt owns it); stopping without recording",
    );
    // A cancelled (ended) trial needs its checkpoints no more; a newer attempt's are its own.
    const state = await trialState(d.db, claimed.trialId);
    if (state && state.status !== 'running' && state.status !== 'queued')
      await d.checkpoints.removeTrial(claimed.trialId).catch(() => {});
    return { superseded: true };
  }
  if (result.status === 'paused') return paused(d, claimed, result.rung!, log);
  if (result.status === 'stopped') {
    // Shutting down: hand the trial back with a new delivery (a release spends no budget).
    await release(d, claimed, log);
    log.info({ step: result.stepsDone }, 'trial checkpointed and released for another worker');
    return { released: true };
  }
  // A range test's ramp ends where the loss diverges: that is its answer, not a failure.
  const rangeTest = (claimed.config as BuiltinTrialConfig).rangeTest === true;
  const status = result.status === 'diverged' && !rangeTest ? 'diverged' : 'completed';
  const ended = await timed(phases, 'finish', async () => {
    // Retried while Postgres is unreachable, as metric writes are: the last rows travel with the end.
    const ok = await retryWhileUnreachable(
      log,
      unreachableRetryMs,
      "the attempt's end could not be recorded; retrying",
      () =>
        finishTrial(
          d.db,
          claimed.trialId,
          claimed.attempt,
          status,
          { ...result, trainingStartedAt: new Date(timing.startedAt), trainMs: timing.ms },
          run.rest,
        ),
    );
    if (ok && run.rest) {
      if (run.rest.updates?.length) d.metrics?.written('updates', run.rest.updates.length, Date.now());
      if (run.rest.evals?.length) d.metrics?.written('evaluations', run.rest.evals.length, Date.now());
    }
    if (ok) await d.checkpoints.removeTrial(claimed.trialId).catch(() => {});
    return ok;
  });
  if (!ended) {
    log.warn("the trial is no longer this attempt's (cancelled, or a newer attempt owns it); its end was not recorded");
    return { superseded: true };
  }
  log.info(
    {
      status,
      steps: result.stepsDone,
      resumedFrom: resume?.step ?? 0,
      finalValLoss: result.finalValLoss,
      testLoss: result.test?.test_loss ?? null,
      ms: Date.now() - run.startedMs,
      trainMs: Math.round(timing.ms),
      hostMs: Math.round(timing.hostMs),
      numTensors,
      rssMbAfter: rssMb(),
      phasesMs: rounded(phases),
    },
    'trial finished',
  );
  return { status };
}

export async function release(d: TrialRunnerDeps, claimed: ClaimedTrial, log: Logger) {
  const delivery = await releaseTrial(d.db, claimed.trialId, claimed.attempt);
  if (delivery) await d.queue.enqueueTrials([delivery]);
  else log.info("the trial was no longer this attempt's to release");
  return { released: true };
}

/**
 * A failed attempt, classified once: terminal failures fail the trial; retryable ones spend a
 * failure of its budget and run again after a backoff, or fail it once the budget is spent. When
 * Postgres itself is unreachable nothing can be recorded: the attempt's lease lapses, and the
 * reconciler counts it and delivers the trial again.
 */
export async function failed(d: TrialRunnerDeps, claimed: ClaimedTrial, failure: TrialFailure, log: Logger) {
  const retryable = isRetryable(failure.code);
  const err = new TrialError(failure.code, failure.message);
  if (failure.stack) err.stack = failure.stack;
  const r = await failAttempt(d.db, claimed.trialId, claimed.attempt, failure, retryable);
  if (r.outcome === 'requeued') {
    await d.queue.enqueueTrials([r.delivery]);
    log.warn({ err, code: failure.code, retryInMs: r.delivery.delayMs }, 'trial attempt failed; it will be retried');
    return { retried: true };
  }
  if (r.outcome === 'failed') {
    await d.checkpoints.removeTrial(claimed.trialId).catch(() => {});
    log.error({ err, code: failure.code, rssMbAfter: rssMb() }, 'trial failed');
  }
  return { failed: r.outcome === 'failed' };
}
