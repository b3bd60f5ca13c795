// A slot's trainer process. TensorFlow runs here, not in the worker: an abort, a segfault or an
// out-of-memory in a native backend ends this process and fails one trial, and the worker goes on.
// TF reads its thread counts, oneDNN and allocator settings once per process, so the worker starts
// this process with them in its environment. Training runs on a thread of this process; this main
// thread stays free to relay messages and to set the training thread's stop flag (a blocking
// `train()` would never see a message), and to notice the worker is gone.
import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { toTrialFailure } from '@lrsweep/contract';
import pino from 'pino';
import { createDatasetCache } from './dataset-cache';
import type { FromChild, FromThread, ToChild, ToThread } from './thread-protocol';

const send = (m: FromChild) => process.send?.(m);
// The worker went away (killed with -9, or crashed): nothing here may go on training its trials.
process.on('disconnect', () => process.exit(0));
// Under memory pressure the kernel's OOM killer takes a trainer before its worker (raising one's
// own score needs no privilege). Not on Linux: nothing to do.
try {
  writeFileSync('/proc/self/oom_score_adj', process.env.LRSWEEP_TRAINER_OOM_SCORE_ADJ ?? '500');
} catch {}

const log = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { app: 'worker', workerId: process.env.WORKER_ID, trainer: process.pid },
});
const datasets = createDatasetCache(log);
const thread = new Worker(new URL('./train-thread-entry.mjs', import.meta.url));
/** The running trial's stop flag, shared with the training thread. */
let stopFlag: Int32Array | null = null;

thread.on('message', (m: FromThread) => send(m));
thread.on('error', (err) => {
  send({ type: 'failed', failure: toTrialFailure(err, 'WORKER_CRASHED') });
  process.exit(1);
});
// The training thread ended (a fault test's process.exit in it, a crash): so does this process,
// and the worker reads its exit code.
thread.on('exit', (code) => process.exit(code === 0 ? 1 : code));

process.on('message', (msg: ToChild) => {
  if (msg.type === 'stop') {
    if (stopFlag) Atomics.store(stopFlag, 0, 1);
    return;
  }
  if (msg.type === 'init') return thread.postMessage(msg satisfies ToThread);
  let dataset: ReturnType<typeof datasets.get>;
  try {
    dataset = datasets.get(msg.dataset);
  } catch (err) {
    send({ type: 'failed', failure: toTrialFailure(err, 'INFRASTRUCTURE') });
    return;
  }
  if (msg.type === 'choose') return thread.postMessage({ ...msg, dataset } satisfies ToThread);
  const stop = new SharedArrayBuffer(4);
  stopFlag = new Int32Array(stop);
  thread.postMessage({ ...msg, dataset, stop } satisfies ToThread);
});
