import { arch, cpus } from 'node:os';
import { toTrialFailure } from '@lrsweep/contract';
import type { Db } from '@lrsweep/db';
import { type AttemptEndKind, afterTrial, type ClaimedTrial, recordCheckpoint } from '@lrsweep/engine';
import type { Job, TrialQueue } from '@lrsweep/queue';
import type { BuiltinTrialConfig } from '@lrsweep/sweep';
import type { Dataset, DatasetRequest, RungOptions, TrainerState } from '@lrsweep/trainer';
import type { Logger } from 'pino';
import type { CheckpointFiles } from './checkpoint-files';
import { createMetricSink, type MetricSink } from './metric-sink';
import { withoutWorkerPaths } from './data-root';
import { failed, record, release, rssMb, type TrainedRun, type TrialOutcome } from './attempt-end';
import { type Phases, timed } from './phases';
import { keepLease, type Lease } from './lease-keeper';
import { forksOf, handOff, nextRung } from './search-steps';
import { claim } from './claim-delivery';
import { prepare, type Ready } from './prepare-attempt';
import { sweepNumericsFor, underKey } from './sweep-numerics';
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
  /**
   * Hand the slot to its next trial this long (ms) before the current one is expected to end (at
   * its last update at the latest): the next claim overlaps the last updates and final evaluations,
   * and the next trial trains once the slot's process is done (WORKER_CLAIM_AHEAD_MS; default 100).
   */
  claimAheadMs?: number;
  /** How long a metric write is retried while Postgres is unreachable before the attempt stops and fails (default 120 s). */
  metricRetryMs?: number;
  checkpoints: CheckpointFiles;
  lrsweepVersion: string;
  datasets: { get(req: DatasetRequest): Dataset };
  /** Dataset paths in specs are relative to it (see data-root.ts). */
  dataRoot: string;
  /** What one slot's trial may need (MiB) by estimate (WORKER_SLOT_MEMORY_MB); none: no check. */
  slotMemoryMb?: number;
  /** Layers models' paths in specs are relative to it. */
  modelRoot: string;
  /** True once the process is shutting down: running trials checkpoint, stop and go back to the queue. */
  shuttingDown(): boolean;
  /** What the worker trains on (device.ts): each trial records it. */
  device?: DeviceInfo;
  /** How many trials' ends may wait to be recorded before the slot waits with them (default 4). */
  maxRecording?: number;
  /** Prometheus metrics of the worker (optional: tests of the runner alone leave it out). */
  metrics?: WorkerMetrics;
  /** The numerics keys (ids) this worker's slots can train under: it claims no trial of a sweep keyed otherwise. */
  numerics(): readonly string[];
}

/** The machine's CPU, as each trial records it (read once: os.cpus() costs a system call per core). */
const cpu = (() => {
  let c: { cpuModel: string; cpuCount: number } | null = null;
  return () => (c ??= { cpuModel: cpus()[0]?.model ?? arch(), cpuCount: cpus().length });
})();

/**
 * A delivery ends when the slot's thread is free (the trial trained, or never started): the
 * slot takes its next trial while this one's end is recorded beside it (`settled`). Nothing
 * waits on Redis for that: Postgres holds the trial, and a worker that dies before recording
 * leaves a lease that lapses, so the trial is delivered again (the reconciler). `trained`: this
 * delivery claimed the trial and ran its attempt (whatever the attempt came to: see `settled`).
 */
export interface Delivered {
  delivery: { skipped: true } | { trained: true; trialId: string; attempt: number };
  settled: Promise<TrialOutcome>;
}

/**
 * Handles one delivery of a trial on a reserved slot, in five steps: claim it in Postgres
 * (compare-and-set), prepare its data and resume point, train it on the slot's thread (lease
 * renewed, metrics streamed, checkpoints recorded), record the outcome, or classify the failure
 * and let the retry policy decide (see `failAttempt`). The slot is handed back once the thread
 * is done with the trial; `settled()` waits for every attempt's end to be recorded (shutdown).
 */
export function createTrialRunner(d: TrialRunnerDeps) {
  const recording = new Set<Promise<unknown>>();
  /** How to stop each trial training now (after its current update). */
  const stoppers = new Set<() => void>();
  const runTrial = async (
    payload: { trialId: string; sweepId: string },
    job: Job,
    token: string | undefined,
    slot: TrainingSlot,
  ): Promise<Delivered> => {
    const t0 = performance.now();
    // From the slot's last trial handing it back to this delivery (the queue's hand-off).
    const handOff = slot.idleSince === null ? null : t0 - slot.idleSince;
    const claimed = await claim(d, payload.trialId, job, token);
    if (!claimed) return { delivery: { skipped: true }, settled: Promise.resolve({ skipped: true }) };
    const phases: Phases = { claim: performance.now() - t0, ...(handOff !== null ? { handOff } : {}) };
    let threadFree!: () => void;
    const freed = new Promise<void>((r) => (threadFree = r));
    const settled = attempt(d, claimed, job, slot, phases, { threadFree, stoppers });
    const tracked = settled.catch((err) =>
      d.log.error(
        { err, trialId: claimed.trialId, attempt: claimed.attempt },
        "could not record the attempt's end; its lease lapses and the trial is delivered again",
      ),
    );
    recording.add(tracked);
    void tracked.finally(() => recording.delete(tracked));
    await freed;
    // Ends that cannot be recorded (a statement that hangs) hold the slot once too many wait:
    // the worker stops taking trials rather than piling them up.
    while (recording.size > (d.maxRecording ?? 4)) await Promise.race(recording);
    return { delivery: { trained: true, trialId: claimed.trialId, attempt: claimed.attempt }, settled };
  };
  return Object.assign(runTrial, {
    /** Stops every trial training now, after its current update (a shutdown: they checkpoint and are released). */
    stopRunning: () => stoppers.forEach((stop) => stop()),
    /** Resolves once every attempt handed back so far has its end recorded. */
    settled: async () => {
      while (recording.size) await Promise.all([...recording]);
    },
  });
}
export type TrialRunner = ReturnType<typeof createTrialRunner>;

/** What an attempt tells its runner: when its thread is free, and how to stop it. */
interface AttemptHooks {
  threadFree: () => void;
  stoppers: Set<() => void>;
}

/** One claimed attempt, from preparation to its recorded end; `threadFree` once the slot's thread is done with it. */

async function attempt(
  d: TrialRunnerDeps,
  claimed: ClaimedTrial,
  job: Job,
  slot: TrainingSlot,
  phases: Phases,
  hooks: AttemptHooks,
): Promise<TrialOutcome> {
  const { threadFree } = hooks;
  const startedMs = Date.now();
  d.metrics?.claimed(job.timestamp);
  let outcome: AttemptEndKind = 'failed';
  const log = d.log.child({
    sweepId: claimed.sweepId,
    trialId: claimed.trialId,
    attempt: claimed.attempt,
    rssMbBefore: rssMb(),
  });
  // Renewed from the claim on: preparing (a dataset, a probe in a trainer just started) takes time too.
  const lease = keepLease(d, claimed, log);
  try {
    if (d.shuttingDown()) {
      outcome = 'released';
      threadFree();
      return await release(d, claimed, log);
    }
    const prepared = await timed(phases, 'prepare', () => prepare(d, claimed, log));
    const decided = await timed(phases, 'numerics', () => sweepNumericsFor(d, claimed, slot, prepared, log));
    if (decided.kind === 'elsewhere') {
      // Another worker keyed the sweep first, with a key this one cannot run: a worker that can takes it.
      outcome = 'released';
      threadFree();
      return await release(d, claimed, log);
    }
    const run = await trainOnSlot(
      d,
      claimed,
      slot,
      { ...prepared, numerics: decided.numerics },
      log,
      phases,
      hooks,
      lease,
    );
    const r = await record(d, claimed, run, prepared.resume, log, phases);
    outcome = 'status' in r && r.status ? r.status : 'released' in r ? 'released' : 'superseded';
    return r;
  } catch (err) {
    const failure = toTrialFailure(err, 'INFRASTRUCTURE');
    // What users read names no path of the worker's (data paths are shown relative to DATA_ROOT).
    const f = await failed(
      d,
      claimed,
      { ...failure, message: withoutWorkerPaths(failure.message, [d.dataRoot, d.modelRoot]) },
      log,
    );
    outcome = 'retried' in f ? 'retried' : f.failed ? 'failed' : 'superseded';
    return f;
  } finally {
    lease.stop();
    // A failure before the thread was done with the trial: recorded (or not) first, then the slot goes on.
    threadFree();
    d.metrics?.ended(startedMs, outcome);
    await afterTrial(
      { db: d.db, queue: d.queue, log, removeCheckpoints: (id) => d.checkpoints.removeTrial(id) },
      claimed,
      { kind: outcome },
    );
  }
}

/** Trains on the slot's thread while the lease is renewed, metrics stream and checkpoints are recorded. */
async function trainOnSlot(
  d: TrialRunnerDeps,
  claimed: ClaimedTrial,
  slot: TrainingSlot,
  { dataset, datasetRequest, layers, resume, datasetPath, modelPath, numerics }: Ready,
  log: Logger,
  phases: Phases,
  { threadFree, stoppers }: AttemptHooks,
  lease: Lease,
): Promise<TrainedRun> {
  const { trialId, attempt } = claimed;
  let stopRun: (() => void) | null = null;
  const sink = createMetricSink({
    db: d.db,
    trialId,
    attempt,
    flushMs: d.flushMs,
    log,
    onFenced: lease.lose,
    // Postgres gone for longer than the sink retries: what this attempt trains can no longer be kept.
    onFailed: () => stopRun?.(),
    onWritten: d.metrics?.written,
    ...(d.metricRetryMs !== undefined ? { retryForMs: d.metricRetryMs } : {}),
  });
  // Set once the thread has chosen: a fork trains on its trunk's backend (bit-identical results).
  let backendName: 'wasm' | 'tensorflow' | null = null;
  const checkpoints = checkpointRecorder(d, claimed, sink, log, () => backendName);
  lease.onLost(() => stopRun?.());
  lease.onTick(() => {
    if (d.shuttingDown()) stopRun?.();
  });
  const startedMs = Date.now();
  let running: RunningTrial | null = null;
  try {
    const tStart = performance.now();
    const rung = nextRung(claimed);
    const forks = forksOf(claimed);
    running = await slot.run(
      underKey(trainConfigOf(claimed.config as BuiltinTrialConfig), numerics),
      datasetRequest,
      {
        onUpdates: (rows) => sink.addUpdates(rows),
        onEval: (row) => sink.addEval(row),
        onCheckpoint: checkpoints.record,
        // Its last moments: the slot may claim its next trial now (it trains once this one is done).
        onEnding: threadFree,
      },
      {
        resume,
        checkpointEvery: d.checkpointEvery,
        layers,
        ...(forks.length ? { checkpointAt: forks.map((f) => f.atStep) } : {}),
        ...(rung ? { rung } : {}),
        ending: endingOf(claimed, rung, d.claimAheadMs ?? 100),
      },
      numerics.id,
    );
    stopRun = running.stop;
    stoppers.add(stopRun);
    if (d.shuttingDown() || lease.lost) running.stop();
    const run = running;
    // The backend this trial trains on (the thread chooses per trial: spec, environment or probe).
    const chosen = await run.backend;
    phases.start = performance.now() - tStart;
    const backend = chosen?.backend ?? slot.backend;
    backendName = backend?.name === 'tensorflow' || backend?.name === 'wasm' ? backend.name : null;
    if (chosen)
      log.info(
        {
          backend: chosen.backend.name,
          why: numerics.reason,
          numerics: numerics.id,
          fusedKernels: chosen.backend.fusedOps?.loaded,
        },
        'trial backend',
      );
    // Recorded with the sink's next flush, or with the attempt's end (a short trial: one transaction).
    sink.setRunInfo({
      lrsweepVersion: d.lrsweepVersion,
      tfjsVersion: slot.tfjsVersion,
      backend: backend?.name ?? 'unknown',
      datasetChecksum: dataset.checksum,
      datasetPath,
      modelPath,
      hardware: {
        ...cpu(),
        gpu: backend?.gpu ? (d.device?.kind === 'gpu' ? d.device.name : 'cuda') : null,
        ...(backend?.gpu && d.device?.kind === 'gpu'
          ? { gpuMemoryMiB: d.device.memoryMiB, driver: d.device.driver }
          : {}),
        // Every setting that fixes the trial's bits, as one line (the sweep's key).
        numerics: numerics.id,
        // The native CPU backend's fused layer-norm and GELU kernels (bit-level provenance).
        ...(backend?.name === 'tensorflow' && !backend.gpu ? { fusedKernels: backend.fusedOps?.loaded === true } : {}),
      },
    });
    const outcome = await timed(phases, 'train', () => run.done);
    // The thread is done with this trial: the slot may take its next while the rest is recorded.
    threadFree();
    const tClose = performance.now();
    await checkpoints.settled();
    // A completed or diverged run is recorded next, its last rows with it (one transaction); a
    // stopped or paused one is flushed now, summaries and all.
    const ends = outcome.result.status === 'completed' || outcome.result.status === 'diverged';
    const { fenced, rest } = ends
      ? await sink.handOver()
      : { ...(await sink.close({ summarize: true })), rest: undefined };
    phases.close = performance.now() - tClose;
    return { outcome, superseded: fenced || lease.lost, dataset, startedMs, ...(rest ? { rest } : {}) };
  } catch (err) {
    // The attempt cannot be accounted for (e.g. Postgres went away as it started): its training
    // must not go on. Left running, the slot's thread would take the next trial while still
    // sending this one's rows, and both runs' listeners would hear them. Stop it and wait for
    // it to end; a thread that does not end in time is replaced.
    if (running) await stopOrReplace(slot, running, log);
    await sink.close().catch(() => {});
    throw err;
  } finally {
    lease.stop();
    if (stopRun) stoppers.delete(stopRun);
  }
}

/** Where the attempt ends (its horizon, or its rung and the rung's cooldown), for `ending`. */
function endingOf(claimed: ClaimedTrial, rung: RungOptions | undefined, aheadMs: number) {
  if (!rung) return { endsAfter: claimed.totalSteps, aheadMs };
  return { endsAfter: rung.step, aheadMs, after: rung.estimate === 'raw' ? 0 : rung.estimate.steps };
}

/** Stops a run and waits (a bounded time) for its thread to finish it; otherwise ends the thread. */
async function stopOrReplace(slot: TrainingSlot, running: RunningTrial, log: Logger) {
  running.stop();
  const ended = await Promise.race([
    running.done.then(
      () => true,
      () => true,
    ),
    new Promise<false>((r) => setTimeout(() => r(false), 10_000).unref()),
  ]);
  if (!ended) {
    log.warn('the trainer process did not stop in time; replacing it');
    await slot.close().catch(() => {});
  }
}

/**
 * Checkpoints are recorded one after another, each once the rows before it are stored. At a
 * trunk's fork point the checkpoint is handed to the fork waiting there (handOffFork) as well.
 */
function checkpointRecorder(
  d: TrialRunnerDeps,
  claimed: ClaimedTrial,
  sink: MetricSink,
  log: Logger,
  backend: () => 'wasm' | 'tensorflow' | null,
) {
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
          for (const f of forks.filter((f) => f.atStep === state.step))
            await handOff(d, claimed, f.identity, state, backend(), log);
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
