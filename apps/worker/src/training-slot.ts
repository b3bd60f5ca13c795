import { Worker } from 'node:worker_threads';
import { fromTrialFailure, type NumericsKey, TrialError } from '@lrsweep/contract';
import type {
  BackendChoice,
  Dataset,
  EvalRecord,
  LayersArtifacts,
  RungOptions,
  TrainConfig,
  TrainerState,
  TrainResult,
  UpdateRecord,
} from '@lrsweep/trainer';
import type { Logger } from 'pino';
import type { FromThread, ToThread, TrainTiming } from './thread-protocol';

export interface RunHandlers {
  onUpdates(rows: UpdateRecord[]): void;
  onEval(row: EvalRecord): void;
  onCheckpoint(state: TrainerState): void;
}

export interface RunOptions {
  resume?: TrainerState;
  checkpointEvery?: number;
  /** A trunk's fork points: a checkpoint after exactly these updates. */
  checkpointAt?: readonly number[];
  /** An ASHA rung: pause there, checkpointed, and judge the run. */
  rung?: RungOptions;
  /** A Layers model's files, built on the thread. */
  layers?: LayersArtifacts;
}

export interface RunningTrial {
  done: Promise<{ result: TrainResult; numTensors: number; timing: TrainTiming }>;
  /** The backend the thread chose for this trial and why; null when it failed before choosing. */
  backend: Promise<{ backend: BackendChoice; reason: string } | null>;
  /** Asks the thread to stop after the current update. */
  stop(): void;
}

const threadUrl = new URL('./train-thread-entry.mjs', import.meta.url);

/**
 * One training thread, reused across the trials of a slot. A trial that fails takes its thread
 * with it: the next trial starts on a fresh thread and backend (a wasm heap a trial exhausted, or
 * a backend it left broken, is never reused).
 */
export class TrainingSlot {
  private worker: Worker | null = null;
  backend: BackendChoice | null = null;
  tfjsVersion = '';
  /** The numerics keys this slot's thread can train under (see the contract's NumericsKey). */
  numerics: NumericsKey[] = [];
  /** When (performance.now()) the slot was last handed back; null until its first trial. */
  idleSince: number | null = null;
  /** Why the slot's thread could not be started, while it cannot (a dead slot). */
  startError: Error | null = null;

  constructor(
    private readonly backendPref: string,
    private readonly log: Logger,
  ) {}

  private starting: Promise<Worker> | null = null;

  /** The slot's thread, started (once, however many callers ask at the same time) when it has none. */
  private ensureThread(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker);
    this.starting ??= this.startThread()
      .then((w) => {
        this.startError = null;
        return w;
      })
      .catch((err: Error) => {
        this.startError = err;
        throw err;
      })
      .finally(() => {
        this.starting = null;
      });
    return this.starting;
  }

  private async startThread(): Promise<Worker> {
    const w = new Worker(threadUrl);
    const ready = await new Promise<FromThread>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.postMessage({ type: 'init', backend: this.backendPref } satisfies ToThread);
    });
    if (ready.type !== 'ready') {
      await w.terminate();
      throw ready.type === 'failed'
        ? fromTrialFailure(ready.failure)
        : new TrialError('WORKER_CRASHED', 'training thread failed to start');
    }
    this.backend = ready.backend;
    this.tfjsVersion = ready.tfjsVersion;
    this.numerics = ready.numerics;
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = null;
      if (code !== 0) this.log.warn({ code }, 'training thread exited');
    });
    this.worker = w;
    this.log.info({ backend: ready.backend }, 'training thread ready');
    return w;
  }

  async start(): Promise<void> {
    await this.ensureThread();
  }

  /**
   * The backend a trial of `config` would train on here (the spec, LRSWEEP_BACKEND or the probe),
   * and its numerics key: asked before a sweep has its key, to propose one.
   */
  async choose(
    config: TrainConfig,
    dataset: Dataset,
  ): Promise<{ backend: BackendChoice; reason: string; key: NumericsKey }> {
    const w = await this.ensureThread();
    const answer = await new Promise<FromThread>((resolve, reject) => {
      const onExit = (code: number) =>
        reject(
          new TrialError('WORKER_CRASHED', `the training thread exited with code ${code} while choosing a backend`),
        );
      w.once('message', (m: FromThread) => {
        w.off('exit', onExit);
        resolve(m);
      });
      w.once('exit', onExit);
      w.postMessage({ type: 'choose', config, dataset } satisfies ToThread);
    });
    if (answer.type === 'chosen') return { backend: answer.backend, reason: answer.reason, key: answer.key };
    throw answer.type === 'failed'
      ? fromTrialFailure(answer.failure)
      : new TrialError('WORKER_CRASHED', `unexpected answer from the training thread: ${answer.type}`);
  }

  async run(config: TrainConfig, dataset: Dataset, h: RunHandlers, opts: RunOptions = {}): Promise<RunningTrial> {
    const w = await this.ensureThread();
    const stopBuf = new SharedArrayBuffer(4);
    const stopFlag = new Int32Array(stopBuf);
    let chosen: (v: { backend: BackendChoice; reason: string } | null) => void = () => {};
    const backend = new Promise<{ backend: BackendChoice; reason: string } | null>((r) => (chosen = r));
    const done = new Promise<{ result: TrainResult; numTensors: number; timing: TrainTiming }>((resolve, reject) => {
      const onMessage = (m: FromThread) => {
        if (m.type === 'backend') chosen({ backend: m.backend, reason: m.reason });
        else if (m.type === 'updates') h.onUpdates(m.rows);
        else if (m.type === 'eval') h.onEval(m.row);
        else if (m.type === 'checkpoint') h.onCheckpoint(m.state);
        else if (m.type === 'done')
          finish(() => resolve({ result: m.result, numTensors: m.numTensors, timing: m.timing }));
        else if (m.type === 'failed') fail(fromTrialFailure(m.failure));
      };
      const onError = (err: Error) =>
        fail(new TrialError('WORKER_CRASHED', `the training thread crashed: ${err.message}`, { cause: err }));
      const onExit = (code: number) =>
        fail(new TrialError('WORKER_CRASHED', `the training thread exited with code ${code}`));
      const finish = (f: () => void) => {
        chosen(null);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        f();
      };
      // Whatever failed, the thread goes: the next trial gets a clean one.
      const fail = (err: Error) =>
        finish(() => {
          reject(err);
          void this.close()
            .then(() => this.ensureThread())
            .catch((e) => this.log.error({ err: e }, 'the training thread could not be restarted'));
        });
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
    });
    // A failure can arrive before the caller awaits `done`; it must not become an unhandled
    // rejection (which would end the process). The caller still sees it when it awaits.
    done.catch(() => {});
    w.postMessage({ type: 'run', config, dataset, stop: stopBuf, ...opts } satisfies ToThread);
    return { done, backend, stop: () => Atomics.store(stopFlag, 0, 1) };
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    await w?.terminate();
  }
}
