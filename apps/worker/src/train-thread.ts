// A training thread, inside a slot's trainer process (train-child.ts): TF.js runs here so the
// process's main thread (messages from the worker, the stop flag, the worker's death) never waits on a training step.
import { writeFileSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { toTrialFailure } from '@lrsweep/contract';
import {
  activeBackend,
  type BackendPreference,
  buildLayersModel,
  classifyTrainingError,
  createBackendChooser,
  liveTensorCount,
  type NativeSettings,
  numericsKeyOf,
  selectBackend,
  tfjsVersion,
  train,
  type UpdateRecord,
} from '@lrsweep/trainer';
import { endingWatch } from './ending-watch';
import type { FromThread, ToThread } from './thread-protocol';

const port = parentPort!;
let backendName = 'training';
let choose: ReturnType<typeof createBackendChooser> | null = null;
const send = (m: FromThread) => port.postMessage(m);
/**
 * Fault injection for the fault tests (never set in production): the thread dies at this
 * update of every trial, as a native crash in a backend would take it down.
 */
const exitAtStep = process.env.LRSWEEP_FAULT_THREAD_EXIT_AT_STEP
  ? Number(process.env.LRSWEEP_FAULT_THREAD_EXIT_AT_STEP)
  : null;
/**
 * Test hook (never set in production): the probe picks this backend whatever it measures, so a
 * test can make two workers' probes disagree.
 */
const probeWinner = process.env.LRSWEEP_TEST_PROBE_WINNER || undefined;
/** TensorFlow's settings in this process (the worker sets them before any thread starts): part of the numerics key. */
const native: NativeSettings = {
  intraOpThreads: Number(process.env.TF_NUM_INTRAOP_THREADS) || 0,
  onednn: process.env.TF_ENABLE_ONEDNN_OPTS !== '0',
};
/** Fault injection for the fault tests: trials of this seed throw inside the trainer, at their third update. */
const failSeed = process.env.LRSWEEP_FAULT_FAIL_SEED ? Number(process.env.LRSWEEP_FAULT_FAIL_SEED) : null;
/**
 * Fault injection: the first trial to reach its third update aborts its trainer process there (as
 * LRSWEEP_FAULT_ABORT_SEED does), once across every process given this file (the crash creates
 * it), so the retry, on any worker, trains through.
 */
const crashOnceFile = process.env.LRSWEEP_FAULT_CRASH_ONCE || null;
/** Test hook: every update takes at least this long, so a test can act in the middle of a short trial. */
const stepMs = Number(process.env.LRSWEEP_TEST_STEP_MS) || 0;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** True for the one caller that creates `file` (an exclusive create: atomic across processes). */
function firstToCrash(file: string): boolean {
  try {
    writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch {
    return false;
  }
}
/** Fault injection: trials of this seed abort their trainer process (SIGABRT, as a failed native check does) at their third update. */
const abortSeed = process.env.LRSWEEP_FAULT_ABORT_SEED ? Number(process.env.LRSWEEP_FAULT_ABORT_SEED) : null;

port.on('message', async (msg: ToThread) => {
  if (msg.type === 'init') {
    try {
      const backend = await selectBackend(msg.backend as BackendPreference);
      backendName = backend.name;
      const pref = msg.backend as BackendPreference;
      choose = createBackendChooser({ pref, initial: backend, probeWinner });
      // The keys this thread can train under: its backend's, and wasm's (always there: a spec or
      // another worker's probe may key a sweep to it).
      const numerics = [numericsKeyOf(backend, native)];
      if (backend.name !== 'wasm')
        numerics.push(numericsKeyOf({ name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', gpu: false }, native));
      send({ type: 'ready', backend, tfjsVersion, numerics });
    } catch (err) {
      send({
        type: 'failed',
        failure: { ...toTrialFailure(err, 'INFRASTRUCTURE'), message: `backend: ${(err as Error).message}` },
      });
    }
    return;
  }
  if (msg.type === 'choose') {
    // Before a sweep has its numerics key: the backend its trials would train on here, and that key.
    try {
      const plan = await choose!(msg.config, msg.dataset, msg.config.backend);
      backendName = plan.choice.name;
      send({ type: 'chosen', backend: plan.choice, reason: plan.reason, key: numericsKeyOf(plan.choice, native) });
    } catch (err) {
      send({ type: 'failed', failure: toTrialFailure(err, classifyTrainingError(err)) });
    }
    return;
  }
  const stop = new Int32Array(msg.stop);
  let pending: UpdateRecord[] = [];
  let lastSent = Date.now();
  const flush = () => {
    if (pending.length) send({ type: 'updates', rows: pending });
    pending = [];
    lastSent = Date.now();
  };
  const startedAt = Date.now();
  const t0 = performance.now();
  const endingSoon = endingWatch(msg.ending, () => {
    flush();
    send({ type: 'ending' });
  });
  const hostTime = { ms: 0 };
  try {
    const plan = await choose!(msg.config, msg.dataset, msg.config.backend);
    backendName = plan.choice.name;
    send({ type: 'backend', backend: plan.choice, reason: plan.reason });
    const layers = msg.layers ? await buildLayersModel(msg.layers) : undefined;
    const result = train(
      msg.config,
      msg.dataset,
      {
        onUpdate: (u) => {
          if (u.step === exitAtStep) process.exit(70);
          if (u.step === 2 && (msg.config.seed === abortSeed || (crashOnceFile && firstToCrash(crashOnceFile)))) {
            // Straight to fd 2, as native code writes (a thread's process.stderr is relayed later).
            writeSync(
              2,
              'fault injection: the trainer aborts (LRSWEEP_FAULT_ABORT_SEED or LRSWEEP_FAULT_CRASH_ONCE)\n',
            );
            // What TensorFlow's abort() does to the process (process.abort() itself is refused on a thread).
            process.kill(process.pid, 'SIGABRT');
          }
          if (u.step === 2 && msg.config.seed === failSeed)
            throw new Error(`fault injection: trials of seed ${failSeed} fail (LRSWEEP_FAULT_FAIL_SEED)`);
          if (stepMs) Atomics.wait(sleeper, 0, 0, stepMs);
          pending.push(u);
          if (pending.length >= 200 || Date.now() - lastSent > 100) flush();
          endingSoon(u.step);
        },
        onEval: (e) => {
          flush();
          send({ type: 'eval', row: e });
        },
        shouldStop: () => Atomics.load(stop, 0) !== 0,
        onCheckpoint: (state) => {
          // Rows up to the checkpoint go out first: the checkpoint is recorded once they are stored.
          flush();
          send({ type: 'checkpoint', state });
        },
      },
      {
        resume: msg.resume,
        checkpointEvery: msg.checkpointEvery,
        checkpointAt: msg.checkpointAt,
        rung: msg.rung,
        hostTime,
        layers,
      },
    );
    flush();
    send({
      type: 'done',
      result,
      numTensors: liveTensorCount(),
      timing: { startedAt, ms: performance.now() - t0, hostMs: hostTime.ms },
    });
  } catch (err) {
    flush();
    // Classified here, where the error is seen: its name, code and stack cross to the worker.
    const failure = toTrialFailure(err, classifyTrainingError(err));
    // The backend active when it failed: a probe trains on each backend in turn, so the one
    // chosen for the previous trial (or this one's plan) may not be the one that ran out.
    backendName = activeBackend() ?? backendName;
    if (failure.code === 'RESOURCE_EXHAUSTED') {
      failure.message = `the trial needs more memory than the ${backendName} backend has (smaller batches or model): ${failure.message}`;
    }
    send({ type: 'failed', failure });
  }
});
