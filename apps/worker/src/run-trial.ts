import { arch, cpus } from 'node:os';
import { isRetryable, type TrialFailure, toTrialFailure, TrialError } from '@lrsweep/contract';
import {
  admitHeldTrials,
  type ClaimedTrial,
  type Redelivery,
  claimTrial,
  type Db,
  decideRungs,
  failAttempt,
  finishTrial,
  handOffFork,
  recordCheckpoint,
  releaseOrphanForks,
  recordRunInfo,
  reachRung,
  releaseTrial,
  renewLease,
  trialState,
  waitingFork,
} from '@lrsweep/db';
import { DelayedError, type Job, type TrialQueue } from '@lrsweep/queue';
import { type BuiltinTrialConfig, nextRungOf } from '@lrsweep/sweep';
import { type Dataset, type DatasetRequest, type LayersArtifacts, readLayersModel, type RungOptions, type TrainerState } from '@lrsweep/trainer';
import type { Logger } from 'pino';
import type { CheckpointFiles } from './checkpoint-files';
import { createMetricSink, type MetricSink } from './metric-sink';
import { relativeToRoot, resolveDataset, resolveModelFiles, withoutWorkerPaths } from './data-root';
import { trainConfigOf } from './train-config';
import type { RunningTrial, TrainingSlot } from './training-slot';
import type { DeviceInfo } from './device';
import type { WorkerMetrics } from './worker-metrics';

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
  /** Dataset paths in specs are relative to it (see data-root.ts). */
  dataRoot: string;
  /** Layers models' paths in specs are relative to it. */
  modelRoot: string;
  /** True once the process is shutting down: running trials checkpoint, stop and go back to the queue. */
  shuttingDown(): boolean;
  /** What the worker trains on (device.ts): each trial records it. */
  device?: DeviceInfo;
  /** Prometheus metrics of the worker (optional: tests of the runner alone leave it out). */
  metrics?: WorkerMetrics;
}

type Outcome = Awaited<RunningTrial['done']>;

/** The process's resident memory in MB (a trial's backend memory is part of it). */
export const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);

/**
 * Handles one delivery of a trial on a reserved slot, in five steps: claim it in Postgres
 * (compare-and-set), prepare its data and resume point, train it on the slot's thread (lease
 * renewed, metrics streamed, checkpoints recorded), record the outcome, or classify the failure
 * and let the retry policy decide (see `failAttempt`).
 */
export function createTrialRunner(d: TrialRunnerDeps) {
  return async function runTrial(payload: { trialId: string; sweepId: string }, job: Job, token: string | undefined, slot: TrainingSlot) {
    const claimed = await claim(d, payload.trialId, job, token);
    if (!claimed) return { skipped: true };
    const startedMs = Date.now();
    d.metrics?.claimed(job.timestamp);
    let outcome = 'failed';
    const log = d.log.child({ sweepId: claimed.sweepId, trialId: claimed.trialId, attempt: claimed.attempt, rssMbBefore: rssMb() });
    try {
      if (d.shuttingDown()) {
        outcome = 'released';
        return await release(d, claimed, log);
      }
      const prepared = await prepare(d, claimed, log);
      const run = await trainOnSlot(d, claimed, slot, prepared, log);
      const r = await record(d, claimed, run, prepared.resume, log);
      outcome = 'status' in r && r.status ? r.status : 'released' in r ? 'released' : 'superseded';
      return r;
    } catch (err) {
      const failure = toTrialFailure(err, 'INFRASTRUCTURE');
      // What users read names no path of the worker's (data paths are shown relative to DATA_ROOT).
      return await failed(d, claimed, { ...failure, message: withoutWorkerPaths(failure.message, [d.dataRoot, d.modelRoot]) }, log);
    } finally {
      d.metrics?.ended(startedMs, outcome);
      if (claimed.maxParallel !== null && outcome !== 'released') await admitNext(d, claimed.sweepId, log);
      if (forksOf(claimed).length && outcome !== 'released') await releaseForks(d, claimed, log);
      // An ASHA trial that ended (not paused) may settle its rung: pending configurations are fewer.
      if (config(claimed).asha && outcome !== 'released' && outcome !== 'paused') await settleRungs(d, claimed, log);
    }
  };
}

/**
 * Work a trial's end makes due for others, which the API's reconciler also does: its deliveries
 * are enqueued here, and a failure loses nothing, so it is only logged.
 */
async function alsoReconciled(d: TrialRunnerDeps, log: Logger, what: string, work: () => Promise<{ deliveries: Redelivery[]; pruned?: string[] }>) {
  try {
    const r = await work();
    for (const id of r.pruned ?? []) await d.checkpoints.removeTrial(id).catch(() => {});
    if (r.deliveries.length) await d.queue.enqueueTrials(r.deliveries);
    return r.deliveries.length;
  } catch (err) {
    log.warn({ err }, `could not ${what}; the reconciler will`);
    return 0;
  }
}

/** A trial of a sweep with maxParallel ended: the next held ones may start now. */
const admitNext = (d: TrialRunnerDeps, sweepId: string, log: Logger) =>
  alsoReconciled(d, log, 'start the next held trial of the sweep', async () => ({ deliveries: await admitHeldTrials(d.db, sweepId) }));

/** A trunk ended (or its attempt did): any fork it did not hand a checkpoint to (it diverged or failed first) runs independently now. */
async function releaseForks(d: TrialRunnerDeps, claimed: ClaimedTrial, log: Logger) {
  const n = await alsoReconciled(d, log, "release the trunk's waiting forks", async () => ({ deliveries: await releaseOrphanForks(d.db, claimed.identity) }));
  if (n) log.info({ forks: n }, 'forks the trunk did not reach run independently');
}

/** An ASHA trial ended: decide what its ending makes certain (its pruned trials' checkpoints go). */
const settleRungs = (d: TrialRunnerDeps, claimed: ClaimedTrial, log: Logger) => alsoReconciled(d, log, "take the sweep's rung decisions", () => decideRungs(d.db, claimed.sweepId));

const config = (claimed: ClaimedTrial) => claimed.config as BuiltinTrialConfig;

/**
 * The ASHA rung an attempt trains to (none past the last: it runs to its horizon), and how it is
 * judged there: the rungs it has not been judged at yet, whatever checkpoint it resumes from.
 */
function nextRung(claimed: ClaimedTrial): RungOptions | undefined {
  const a = config(claimed).asha;
  return a ? nextRungOf(a, claimed.rungsReached) : undefined;
}

/**
 * Claims the trial, or tells why not: another worker's (look again once its lease could lapse:
 * if that worker dies this delivery picks the trial up, if it finishes the delivery is dropped),
 * or not claimable (finished, cancelled, gone): the delivery ends.
 */
async function claim(d: TrialRunnerDeps, trialId: string, job: Job, token: string | undefined): Promise<ClaimedTrial | null> {
  const claimed = await claimTrial(d.db, trialId, d.workerId, d.leaseMs);
  if (claimed) return claimed;
  const state = await trialState(d.db, trialId);
  if (state?.status === 'running' && state.leaseExpiresAt && !state.sweepCancelled) {
    await job.moveToDelayed(state.leaseExpiresAt.getTime() + 1000, token);
    throw new DelayedError();
  }
  d.log.info({ trialId, status: state?.status ?? 'missing' }, 'delivery skipped: trial not claimable');
  return null;
}

/** What a trial trains on, read before its thread starts. */
interface Prepared {
  dataset: Dataset;
  /** A Layers model's files (a `layers` spec). */
  layers?: LayersArtifacts;
  /** The files read, relative to DATA_ROOT and MODEL_ROOT (provenance). */
  datasetPath: string | null;
  modelPath: string | null;
  resume?: TrainerState;
}

/**
 * The trial's dataset (loaded once per process), its Layers model's files, and the checkpoint an
 * earlier attempt left. Data or a model that cannot be read fails the trial at once
 * (DATASET_INVALID, MODEL_INVALID: no retry mends them).
 */
async function prepare(d: TrialRunnerDeps, claimed: ClaimedTrial, log: Logger): Promise<Prepared> {
  const config = claimed.config as BuiltinTrialConfig;
  const req = resolveDataset(config.dataset, d.dataRoot);
  const dataset = d.datasets.get(req);
  const out: Prepared = { dataset, datasetPath: config.dataset.path === undefined ? null : relativeToRoot(d.dataRoot, req.path!), modelPath: null };
  if (config.model.kind === 'layers') {
    const files = resolveModelFiles(d.modelRoot, config.model.path);
    // Re-initialized weights need no shards: only a pretrained model reads them.
    out.layers = readLayersModel(files.file, files.shard, { weights: config.model.weights === 'pretrained' });
    out.modelPath = relativeToRoot(d.modelRoot, files.file);
  }
  if (!claimed.checkpointPath) return out;
  try {
    out.resume = await d.checkpoints.read(claimed.checkpointPath);
    log.info({ step: out.resume.step }, 'resuming from checkpoint');
  } catch (err) {
    // Starting over is still correct: the run is deterministic and rewrites every row.
    log.warn({ err, path: claimed.checkpointPath }, 'checkpoint unreadable; starting over');
  }
  return out;
}

interface TrainedRun {
  outcome: Outcome;
  /** A newer attempt or a cancel took the trial while it trained: nothing is recorded. */
  superseded: boolean;
  dataset: Dataset;
  startedMs: number;
}

/** Trains on the slot's thread while the lease is renewed, metrics stream and checkpoints are recorded. */
async function trainOnSlot(
  d: TrialRunnerDeps,
  claimed: ClaimedTrial,
  slot: TrainingSlot,
  { dataset, layers, resume, datasetPath, modelPath }: Prepared,
  log: Logger,
): Promise<TrainedRun> {
  const { trialId, attempt } = claimed;
  let stopRun: (() => void) | null = null;
  let lostOwnership = false;
  const lose = () => {
    lostOwnership = true;
    stopRun?.();
  };
  const sink = createMetricSink({ db: d.db, trialId, attempt, flushMs: d.flushMs, log, onFenced: lose, onWritten: d.metrics?.written });
  // Set once the thread has chosen: a fork trains on its trunk's backend (bit-identical results).
  let backendName: 'wasm' | 'tensorflow' | null = null;
  const checkpoints = checkpointRecorder(d, claimed, sink, log, () => backendName);
  // When the lease was last known to hold: the start of the last renewal Postgres confirmed.
  let heldSince = Date.now();
  const renew = setInterval(() => {
    const asked = Date.now();
    renewLease(d.db, trialId, attempt, d.leaseMs)
      .then((ok) => (ok ? (heldSince = Math.max(heldSince, asked)) : lose()))
      .catch((err) => log.warn({ err }, 'lease renewal failed'));
    // Cut off from Postgres (a partition, a frozen database) for a whole lease: the lease has
    // lapsed and another worker may own the trial already, so this one stops training it.
    if (!lostOwnership && Date.now() - heldSince > d.leaseMs) {
      log.warn({ sinceMs: Date.now() - heldSince }, 'the lease could not be renewed for a whole lease; stopping this attempt (another worker takes the trial over)');
      lose();
    }
    if (d.shuttingDown()) stopRun?.();
  }, Math.max(100, Math.floor(d.leaseMs / 3)));
  const startedMs = Date.now();
  let running: RunningTrial | null = null;
  try {
    running = await slot.run(
      trainConfigOf(claimed.config as BuiltinTrialConfig),
      dataset,
      { onUpdates: (rows) => sink.addUpdates(rows), onEval: (row) => sink.addEval(row), onCheckpoint: checkpoints.record },
      {
        resume,
        checkpointEvery: d.checkpointEvery,
        layers,
        ...(forksOf(claimed).length ? { checkpointAt: forksOf(claimed).map((f) => f.atStep) } : {}),
        ...(nextRung(claimed) ? { rung: nextRung(claimed) } : {}),
      },
    );
    stopRun = running.stop;
    if (d.shuttingDown() || lostOwnership) running.stop();
    const run = running;
    // The backend this trial trains on (the thread chooses per trial: spec, environment or probe).
    const chosen = await run.backend;
    const backend = chosen?.backend ?? slot.backend;
    backendName = backend?.name === 'tensorflow' || backend?.name === 'wasm' ? backend.name : null;
    if (chosen) log.info({ backend: chosen.backend.name, why: chosen.reason }, 'trial backend');
    await recordRunInfo(d.db, trialId, attempt, {
      lrsweepVersion: d.lrsweepVersion,
      tfjsVersion: slot.tfjsVersion,
      backend: backend?.name ?? 'unknown',
      datasetChecksum: dataset.checksum,
      datasetPath,
      modelPath,
      hardware: {
        cpuModel: cpus()[0]?.model ?? arch(),
        cpuCount: cpus().length,
        gpu: backend?.gpu ? (d.device?.kind === 'gpu' ? d.device.name : 'cuda') : null,
        ...(backend?.gpu && d.device?.kind === 'gpu' ? { gpuMemoryMiB: d.device.memoryMiB, driver: d.device.driver } : {}),
      },
    });
    const outcome = await run.done;
    await checkpoints.settled();
    // A completed or diverged run is recorded next, summaries and all; a stopped one is not.
    const { fenced } = await sink.close({ summarize: outcome.result.status === 'stopped' || outcome.result.status === 'paused' });
    return { outcome, superseded: fenced || lostOwnership, dataset, startedMs };
  } catch (err) {
    // The attempt cannot be accounted for (e.g. Postgres went away as it started): its training
    // must not go on. Left running, the slot's thread would take the next trial while still
    // sending this one's rows, and both runs' listeners would hear them. Stop it and wait for
    // it to end; a thread that does not end in time is replaced.
    if (running) await stopOrReplace(slot, running, log);
    await sink.close().catch(() => {});
    throw err;
  } finally {
    clearInterval(renew);
  }
}

/** Stops a run and waits (a bounded time) for its thread to finish it; otherwise ends the thread. */
async function stopOrReplace(slot: TrainingSlot, running: RunningTrial, log: Logger) {
  running.stop();
  const ended = await Promise.race([running.done.then(() => true, () => true), new Promise<false>((r) => setTimeout(() => r(false), 10_000).unref())]);
  if (!ended) {
    log.warn('the training thread did not stop in time; replacing it');
    await slot.close().catch(() => {});
  }
}

/** A trunk's forks (forks.ts in @lrsweep/sweep): the trials it hands a checkpoint, and where. */
const forksOf = (claimed: ClaimedTrial) => config(claimed).forks ?? [];

/**
 * Checkpoints are recorded one after another, each once the rows before it are stored. At a
 * trunk's fork point the checkpoint is handed to the fork waiting there (handOffFork) as well.
 */
function checkpointRecorder(d: TrialRunnerDeps, claimed: ClaimedTrial, sink: MetricSink, log: Logger, backend: () => 'wasm' | 'tensorflow' | null) {
  const { trialId, attempt } = claimed;
  let chain: Promise<void> = Promise.resolve();
  let last = claimed.checkpointPath;
  const forks = forksOf(claimed);
  return {
    record(state: TrainerState) {
      chain = chain.then(async () => {
        try {
          await sink.flushAll();
          if (sink.fenced) return;
          for (const f of forks.filter((f) => f.atStep === state.step)) await handOff(d, claimed, f.identity, state, backend(), log);
          const path = await d.checkpoints.write(trialId, attempt, state);
          if (await recordCheckpoint(d.db, trialId, attempt, path, state.step)) {
            if (last && last !== path) await d.checkpoints.remove(last);
            last = path;
            log.debug({ step: state.step }, 'checkpoint recorded');
          } else await d.checkpoints.remove(path);
        } catch (err) {
          log.warn({ err, step: state.step }, 'checkpoint failed; training goes on');
        }
      });
    },
    settled: () => chain,
  };
}

/**
 * Hands the fork waiting at this checkpoint's update its own copy of it (the trunk goes on and
 * replaces its own). A failed handoff loses nothing: the fork waits until the trunk ends, then
 * runs independently (releaseOrphanForks).
 */
async function handOff(d: TrialRunnerDeps, claimed: ClaimedTrial, identity: string, state: TrainerState, backend: 'wasm' | 'tensorflow' | null, log: Logger) {
  try {
    const fork = await waitingFork(d.db, identity, claimed.identity);
    if (!fork) return;
    const path = await d.checkpoints.write(fork.id, 0, state);
    const r = await handOffFork(d.db, { trunkId: claimed.trialId, trunkAttempt: claimed.attempt, forkId: fork.id, checkpointPath: path, step: state.step, backend });
    if (!r.handedOff) {
      await d.checkpoints.remove(path);
      return;
    }
    if (r.deliveries.length) await d.queue.enqueueTrials(r.deliveries);
    log.info({ forkId: fork.id, step: state.step }, 'fork handed its checkpoint');
  } catch (err) {
    log.warn({ err, step: state.step }, 'could not hand a fork its checkpoint; it runs independently once this trunk ends');
  }
}

/** Stores what the run came to: completed or diverged, or released (shutdown), or nothing (superseded). */
async function record(d: TrialRunnerDeps, claimed: ClaimedTrial, run: TrainedRun, resume: TrainerState | undefined, log: Logger) {
  const { result, numTensors, timing } = run.outcome;
  if (run.superseded) {
    log.warn("the trial is no longer this attempt's (cancelled, or a newer attempt owns it); stopping without recording");
    // A cancelled (ended) trial needs its checkpoints no more; a newer attempt's are its own.
    const state = await trialState(d.db, claimed.trialId);
    if (state && state.status !== 'running' && state.status !== 'queued') await d.checkpoints.removeTrial(claimed.trialId).catch(() => {});
    return { superseded: true };
  }
  if (result.status === 'paused') return paused(d, claimed, run, log);
  if (result.status === 'stopped') {
    // Shutting down: hand the trial back with a new delivery (a release spends no budget).
    await release(d, claimed, log);
    log.info({ step: result.stepsDone }, 'trial checkpointed and released for another worker');
    return { released: true };
  }
  // A range test's ramp ends where the loss diverges: that is its answer, not a failure.
  const rangeTest = (claimed.config as BuiltinTrialConfig).rangeTest === true;
  const status = result.status === 'diverged' && !rangeTest ? 'diverged' : 'completed';
  await finishTrial(d.db, claimed.trialId, claimed.attempt, status, { ...result, trainingStartedAt: new Date(timing.startedAt), trainMs: timing.ms });
  await d.checkpoints.removeTrial(claimed.trialId).catch(() => {});
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
    },
    'trial finished',
  );
  return { status };
}

/**
 * Paused at an ASHA rung, checkpointed there: the estimate is stored and the trial waits for its
 * configuration's decision, which this report may settle (for it and for others).
 */
async function paused(d: TrialRunnerDeps, claimed: ClaimedTrial, run: TrainedRun, log: Logger) {
  const rung = run.outcome.result.rung!;
  const r = await reachRung(d.db, { trialId: claimed.trialId, attempt: claimed.attempt, rung: claimed.rungsReached, step: rung.step, value: rung.value, cooldownSteps: rung.cooldownSteps });
  if (!r.recorded) {
    log.warn('the trial was no longer this attempt\'s at its rung; nothing recorded');
    return { superseded: true };
  }
  for (const id of r.pruned) await d.checkpoints.removeTrial(id).catch(() => {});
  if (r.deliveries.length) await d.queue.enqueueTrials(r.deliveries);
  log.info({ rung: claimed.rungsReached, step: rung.step, value: rung.value, cooldownSteps: rung.cooldownSteps, promoted: r.deliveries.length, pruned: r.pruned.length }, 'trial judged at a rung');
  return { status: 'paused' as const };
}

async function release(d: TrialRunnerDeps, claimed: ClaimedTrial, log: Logger) {
  const delivery = await releaseTrial(d.db, claimed.trialId, claimed.attempt);
  if (delivery) await d.queue.enqueueTrials([delivery]);
  else log.info('the trial was no longer this attempt\'s to release');
  return { released: true };
}

/**
 * A failed attempt, classified once: terminal failures fail the trial; retryable ones spend a
 * failure of its budget and run again after a backoff, or fail it once the budget is spent. When
 * Postgres itself is unreachable nothing can be recorded: the delivery fails (BullMQ retries it)
 * and the lapsed lease is counted by whoever claims the trial next.
 */
async function failed(d: TrialRunnerDeps, claimed: ClaimedTrial, failure: TrialFailure, log: Logger) {
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
