import { Worker } from 'node:worker_threads';
import type { BackendChoice, Dataset, EvalRecord, TrainConfig, TrainerState, TrainResult, UpdateRecord } from '@lrsweep/trainer';
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
}

export interface RunningTrial {
  done: Promise<{ result: TrainResult; numTensors: number; timing: TrainTiming }>;
  /** Asks the thread to stop after the current update. */
  stop(): void;
}

const threadUrl = new URL('./train-thread-entry.mjs', import.meta.url);

/** Thrown when training itself fails (bad config, shape mismatch): retrying would fail again. */
export class TrainingError extends Error {}

/** One training thread, reused across the trials of a slot. */
export class TrainingSlot {
  private worker: Worker | null = null;
  backend: BackendChoice | null = null;
  tfjsVersion = '';

  constructor(
    private readonly backendPref: string,
    private readonly log: Logger,
  ) {}

  private async ensureThread(): Promise<Worker> {
    if (this.worker) return this.worker;
    const w = new Worker(threadUrl);
    const ready = await new Promise<FromThread>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.postMessage({ type: 'init', backend: this.backendPref } satisfies ToThread);
    });
    if (ready.type !== 'ready') {
      await w.terminate();
      throw new Error(ready.type === 'failed' ? ready.message : 'training thread failed to start');
    }
    this.backend = ready.backend;
    this.tfjsVersion = ready.tfjsVersion;
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

  async run(config: TrainConfig, dataset: Dataset, h: RunHandlers, opts: RunOptions = {}): Promise<RunningTrial> {
    const w = await this.ensureThread();
    const stopBuf = new SharedArrayBuffer(4);
    const stopFlag = new Int32Array(stopBuf);
    const done = new Promise<{ result: TrainResult; numTensors: number; timing: TrainTiming }>((resolve, reject) => {
      const onMessage = (m: FromThread) => {
        if (m.type === 'updates') h.onUpdates(m.rows);
        else if (m.type === 'eval') h.onEval(m.row);
        else if (m.type === 'checkpoint') h.onCheckpoint(m.state);
        else if (m.type === 'done') finish(() => resolve({ result: m.result, numTensors: m.numTensors, timing: m.timing }));
        else if (m.type === 'failed') finish(() => reject(new TrainingError(m.message)));
      };
      const onError = (err: Error) => finish(() => reject(err));
      const onExit = (code: number) => finish(() => reject(new Error(`training thread exited with code ${code}`)));
      const finish = (f: () => void) => {
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        f();
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
    });
    // A failure can arrive before the caller awaits `done`; it must not become an unhandled
    // rejection (which would end the process). The caller still sees it when it awaits.
    done.catch(() => {});
    w.postMessage({ type: 'run', config, dataset, stop: stopBuf, ...opts } satisfies ToThread);
    return { done, stop: () => Atomics.store(stopFlag, 0, 1) };
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    await w?.terminate();
  }
}
