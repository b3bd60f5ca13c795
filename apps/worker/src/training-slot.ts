import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fromTrialFailure, type NumericsKey, TrialError } from '@lrsweep/contract';
import type {
  BackendChoice,
  DatasetRequest,
  EvalRecord,
  LayersArtifacts,
  RungOptions,
  TrainConfig,
  TrainerState,
  TrainResult,
  UpdateRecord,
} from '@lrsweep/trainer';
import type { Logger } from 'pino';
import type { FromChild, ToChild, TrainTiming } from './thread-protocol';

export interface RunHandlers {
  onUpdates(rows: UpdateRecord[]): void;
  onEval(row: EvalRecord): void;
  onCheckpoint(state: TrainerState): void;
  /** The trial's last moments (see FromThread `ending`): the slot may be handed to the next trial. */
  onEnding?(): void;
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
  /** When to say the trial is ending (FromThread `ending`). */
  ending?: { endsAfter: number; aheadMs: number; after?: number };
}

export interface RunningTrial {
  done: Promise<{ result: TrainResult; numTensors: number; timing: TrainTiming }>;
  /** The backend the thread chose for this trial and why; null when it failed before choosing. */
  backend: Promise<{ backend: BackendChoice; reason: string } | null>;
  /** Asks the thread to stop after the current update. */
  stop(): void;
}

const childEntry = fileURLToPath(new URL('./train-child-entry.mjs', import.meta.url));

/**
 * What a dead trainer's stderr says about its death: TensorFlow's fatal line (`F…] Check failed`),
 * its out-of-memory line, else its last lines, stack frames and TF's start-up chatter left out.
 */
export function stderrTail(chunks: string[]): string {
  const lines = chunks
    .join('')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('@') && !l.startsWith('*** '));
  const fatal = lines.filter((l) => /^F\d{4} /.test(l) || /OOM when allocating|ran out of memory/.test(l));
  // TensorFlow's info and warning lines at start (oneDNN, CPU features) say nothing of a death.
  const said = lines.filter((l) => !/^[IW]\d{4} /.test(l) && !l.startsWith('To enable the following'));
  const text = (fatal.length ? fatal : said).slice(-3).join(' | ');
  return text.length > 800 ? `…${text.slice(-800)}` : text;
}

/** A trainer process's end, as the trial's error: how it ended, on which backend, and its last words. */
export function trainerDeath(
  code: number | null,
  signal: NodeJS.Signals | null,
  backend: string | null,
  stderr: string,
): TrialError {
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  const on = backend ? ` (${backend} backend)` : '';
  const said = stderr ? `: ${stderr}` : '';
  // TensorFlow's allocator says so when it runs out (the cap this slot gave it, or the machine's).
  const oom = /ran out of memory|OOM when allocating|std::bad_alloc/i.test(stderr);
  return new TrialError(
    oom ? 'RESOURCE_EXHAUSTED' : 'WORKER_CRASHED',
    oom
      ? `the trial needs more memory than the ${backend ?? 'training'} backend has (smaller batches or model): the training process ${how}${said}`
      : `the training process${on} ${how}${said}`,
  );
}

/** Resident memory of a process (MiB), from /proc (VmRSS, in kB whatever the page size); null where it cannot be read. */
function rssMbOf(pid: number): number | null {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Number(kb) / 1024;
  } catch {
    return null;
  }
}

export interface SlotOptions {
  /** The trial memory budget of the slot (MiB, WORKER_SLOT_MEMORY_MB): TF's allocator cap and the watchdog's allowance. */
  memoryMb?: number;
  /** How often the watchdog reads the trainer's RSS (ms). */
  watchMs?: number;
}

/**
 * One trainer process (train-child.ts), reused across the trials of a slot that train under the
 * same numerics key. A trial that fails takes its process with it: the next trial starts on a
 * fresh one (a heap a trial exhausted, or a backend it left broken, is never reused), started at
 * once. The process runs in its own process group (Ctrl-C and Slurm's TERM reach the worker, which
 * checkpoints and releases first), dies with the worker, and its stderr is kept for the trial's
 * error. While it trains, a watchdog ends it when its memory passes the slot's budget.
 */
export class TrainingSlot {
  private child: ChildProcess | null = null;
  backend: BackendChoice | null = null;
  tfjsVersion = '';
  /** The numerics keys this slot's trainer can train under (see the contract's NumericsKey). */
  numerics: NumericsKey[] = [];
  /** When (performance.now()) the slot was last handed back; null until its first trial. */
  idleSince: number | null = null;
  /** Why the slot's trainer could not be started, while it cannot (a dead slot). */
  startError: Error | null = null;
  /** The numerics key (id) the trainer process has trained under: another key gets a fresh process. */
  private keyId: string | null = null;
  /** The trainer's resident memory once ready (MiB): the watchdog allows the budget on top. */
  private idleRssMb = 0;
  private stderr: string[] = [];

  constructor(
    private readonly backendPref: string,
    private readonly log: Logger,
    private readonly opts: SlotOptions = {},
  ) {}

  private starting: Promise<ChildProcess> | null = null;
  /**
   * The trial the slot's process is still finishing: a next one may be handed the slot in its last
   * moments (`onEnding`), and talks to the process only once it is done with this one.
   */
  private finishing: Promise<unknown> = Promise.resolve();

  /** The slot's trainer, started (once, however many callers ask at the same time) when it has none. */
  private ensureThread(): Promise<ChildProcess> {
    if (this.child) return Promise.resolve(this.child);
    this.starting ??= this.startThread()
      .then((c) => {
        this.startError = null;
        return c;
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

  /** The environment TensorFlow reads once per process: the worker's, and the slot's allocator cap. */
  private childEnv(): NodeJS.ProcessEnv {
    const env = { ...process.env };
    if (this.opts.memoryMb !== undefined && env.TF_CPU_BFC_MEM_LIMIT_IN_MB === undefined) {
      env.TF_CPU_ALLOCATOR_USE_BFC = 'true';
      env.TF_CPU_BFC_MEM_LIMIT_IN_MB = String(this.opts.memoryMb);
    }
    return env;
  }

  private async startThread(): Promise<ChildProcess> {
    const child = fork(childEntry, [], {
      // NaN and typed arrays cross as they are (JSON would turn NaN into null).
      serialization: 'advanced',
      // Its own process group: a terminal's Ctrl-C goes to the worker, which stops it in order.
      detached: true,
      execArgv: [],
      env: this.childEnv(),
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const stderr: string[] = [];
    this.stderr = stderr;
    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      // The last 64 KiB or so: TF's out-of-memory dump alone runs to 10.
      stderr.push(chunk.toString());
      while (stderr.length > 1 && stderr.reduce((n, c) => n + c.length, 0) > 64 * 1024) stderr.shift();
    });
    const ready = await new Promise<FromChild>((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        reject(trainerDeath(code, signal, null, stderrTail(stderr)));
      child.once('exit', onExit);
      child.once('error', reject);
      child.once('message', (m: FromChild) => {
        child.off('exit', onExit);
        resolve(m);
      });
      child.send({ type: 'init', backend: this.backendPref } satisfies ToChild);
    }).catch((err) => {
      child.kill('SIGKILL');
      throw err;
    });
    if (ready.type !== 'ready') {
      child.kill('SIGKILL');
      throw ready.type === 'failed'
        ? fromTrialFailure(ready.failure)
        : new TrialError('WORKER_CRASHED', 'the training process failed to start');
    }
    this.backend = ready.backend;
    this.tfjsVersion = ready.tfjsVersion;
    this.numerics = ready.numerics;
    this.idleRssMb = (child.pid !== undefined ? rssMbOf(child.pid) : null) ?? 0;
    this.keyId = null;
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (code !== 0 && signal !== 'SIGKILL') this.log.warn({ code, signal }, 'training process exited');
    });
    this.child = child;
    this.log.info({ backend: ready.backend, pid: child.pid }, 'training thread ready');
    return child;
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
    dataset: DatasetRequest,
  ): Promise<{ backend: BackendChoice; reason: string; key: NumericsKey }> {
    await this.finishing;
    const c = await this.ensureThread();
    const stderr = this.stderr;
    const answer = await new Promise<FromChild>((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        reject(trainerDeath(code, signal, null, stderrTail(stderr)));
      c.once('message', (m: FromChild) => {
        c.off('exit', onExit);
        resolve(m);
      });
      c.once('exit', onExit);
      c.send({ type: 'choose', config, dataset } satisfies ToChild);
    });
    if (answer.type === 'chosen') return { backend: answer.backend, reason: answer.reason, key: answer.key };
    void this.replace();
    throw answer.type === 'failed'
      ? fromTrialFailure(answer.failure)
      : new TrialError('WORKER_CRASHED', `unexpected answer from the training process: ${answer.type}`);
  }

  /**
   * Trains one trial on the slot's trainer process. `keyId`: the numerics key it trains under; a
   * process that trained under another key is replaced first (TF's settings are per process).
   */
  async run(
    config: TrainConfig,
    dataset: DatasetRequest,
    h: RunHandlers,
    opts: RunOptions = {},
    keyId?: string,
  ): Promise<RunningTrial> {
    await this.finishing;
    if (keyId !== undefined && this.keyId !== null && this.keyId !== keyId && this.child) {
      this.log.info({ from: this.keyId, to: keyId }, 'another numerics key: a fresh training process');
      await this.close();
    }
    const c = await this.ensureThread();
    if (keyId !== undefined) this.keyId = keyId;
    const stderr = this.stderr;
    let ranOn: string | null = null;
    let chosen: (v: { backend: BackendChoice; reason: string } | null) => void = () => {};
    const backend = new Promise<{ backend: BackendChoice; reason: string } | null>((r) => (chosen = r));
    let watchdog: NodeJS.Timeout | undefined;
    const done = new Promise<{ result: TrainResult; numTensors: number; timing: TrainTiming }>((resolve, reject) => {
      const onMessage = (m: FromChild) => {
        if (m.type === 'backend') {
          ranOn = m.backend.name;
          chosen({ backend: m.backend, reason: m.reason });
        } else if (m.type === 'updates') h.onUpdates(m.rows);
        else if (m.type === 'eval') h.onEval(m.row);
        else if (m.type === 'checkpoint') h.onCheckpoint(m.state);
        else if (m.type === 'ending') h.onEnding?.();
        else if (m.type === 'done')
          finish(() => resolve({ result: m.result, numTensors: m.numTensors, timing: m.timing }));
        else if (m.type === 'failed') fail(fromTrialFailure(m.failure));
      };
      const onError = (err: Error) =>
        fail(new TrialError('WORKER_CRASHED', `the training process failed: ${err.message}`, { cause: err }));
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        fail(trainerDeath(code, signal, ranOn, stderrTail(stderr)));
      const finish = (f: () => void) => {
        clearInterval(watchdog);
        chosen(null);
        c.off('message', onMessage);
        c.off('error', onError);
        c.off('exit', onExit);
        f();
      };
      // Whatever failed, the process goes: the next trial gets a clean one, started now.
      const fail = (err: Error) =>
        finish(() => {
          reject(err);
          void this.replace();
        });
      c.on('message', onMessage);
      c.on('error', onError);
      c.on('exit', onExit);
      watchdog = this.watch(c, () => ranOn, fail);
    });
    // A failure can arrive before the caller awaits `done`; it must not become an unhandled
    // rejection (which would end the process). The caller still sees it when it awaits.
    done.catch(() => {});
    this.finishing = done.catch(() => {});
    c.send({ type: 'run', config, dataset, ...opts } satisfies ToChild);
    return {
      done,
      backend,
      stop: () => {
        if (c.connected) c.send({ type: 'stop' } satisfies ToChild);
      },
    };
  }

  /**
   * While a trial trains: the trainer's resident memory past its idle size, the slot's budget and
   * a headroom ends the process, and the trial fails for it. TF's allocator is capped at the budget
   * itself; the headroom (a quarter of the budget, at least 256 MiB) is for what that cap does not
   * see (oneDNN's scratch, batches copied in from JS, the JS heap), so on the native backend TF's
   * own cap answers first, and the watchdog catches the rest (wasm's heap, a leak).
   */
  private watch(c: ChildProcess, backend: () => string | null, fail: (err: Error) => void) {
    const budget = this.opts.memoryMb;
    if (budget === undefined || c.pid === undefined) return undefined;
    const pid = c.pid;
    const allowed = this.idleRssMb + budget + Math.max(256, budget / 4);
    const timer = setInterval(() => {
      const rss = rssMbOf(pid);
      if (rss === null || rss <= allowed) return;
      c.kill('SIGKILL');
      fail(
        new TrialError(
          'RESOURCE_EXHAUSTED',
          `the trial used ${Math.round(rss)} MiB on the ${backend() ?? 'training'} backend, over the ${Math.round(allowed)} MiB its training process may hold (${budget} MiB a slot, WORKER_SLOT_MEMORY_MB, and headroom, on top of ${Math.round(this.idleRssMb)} MiB idle): use a smaller batch or model, or workers with more memory a slot`,
        ),
      );
    }, this.opts.watchMs ?? 500);
    timer.unref();
    return timer;
  }

  /** Ends the trainer and starts the next at once (a failed trial's process is never reused). */
  private async replace(): Promise<void> {
    await this.close()
      .then(() => this.ensureThread())
      .catch((e) => this.log.error({ err: e }, 'the training process could not be restarted'));
  }

  async close(): Promise<void> {
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await exited;
  }
}
