import type { NumericsKey, TrialFailure } from '@lrsweep/contract';
import type {
  BackendChoice,
  Dataset,
  EvalRecord,
  LayersArtifacts,
  RungOptions,
  TrainConfig,
  TrainerState,
  DatasetRequest,
  TrainResult,
  UpdateRecord,
} from '@lrsweep/trainer';

/** When the training loop started (epoch ms) and how long it ran, on the thread's clock. */
export interface TrainTiming {
  startedAt: number;
  ms: number;
  /** Of `ms`, the time spent on the worker's behalf: metric hand-off and checkpoint snapshots. */
  hostMs: number;
}

/** Messages between a trainer process's main thread (train-child.ts) and its training thread. */
export type ToThread =
  | { type: 'init'; backend: string }
  /** Which backend (and numerics key) a trial of this config would train on here; answered by `chosen`. */
  | { type: 'choose'; config: TrainConfig; dataset: Dataset }
  | {
      type: 'run';
      config: TrainConfig;
      dataset: Dataset;
      stop: SharedArrayBuffer;
      resume?: TrainerState;
      checkpointEvery?: number;
      checkpointAt?: readonly number[];
      rung?: RungOptions;
      layers?: LayersArtifacts;
      /** The attempt's last update (its horizon, or its rung), and how long before the end to say `ending`. */
      ending?: { endsAfter: number; aheadMs: number; after?: number };
    };

export type FromThread =
  /** `numerics`: the keys this thread can train under (its backend's, and wasm's: always there). */
  | { type: 'ready'; backend: BackendChoice; tfjsVersion: string; numerics: NumericsKey[] }
  | { type: 'chosen'; backend: BackendChoice; reason: string; key: NumericsKey }
  /** The backend this trial trains on, and why (sent before its first update). */
  | { type: 'backend'; backend: BackendChoice; reason: string }
  | { type: 'updates'; rows: UpdateRecord[] }
  | { type: 'eval'; row: EvalRecord }
  | { type: 'checkpoint'; state: TrainerState }
  /**
   * The trial is expected to end within `ending.aheadMs` (its updates so far, at their pace): the
   * slot may take its next trial now, which starts once this one is done.
   */
  | { type: 'ending' }
  | { type: 'done'; result: TrainResult; numTensors: number; timing: TrainTiming }
  | { type: 'failed'; failure: TrialFailure };

/**
 * Messages from a slot (the worker process) to its trainer process (train-child.ts), whose main
 * thread relays them to its training thread. A process has no SharedArrayBuffer in common with
 * the worker: it loads the datasets it is asked for itself (once each), and a stop is a message
 * its main thread turns into the training thread's stop flag.
 */
export type ToChild =
  | { type: 'init'; backend: string }
  | { type: 'choose'; config: TrainConfig; dataset: DatasetRequest }
  | (Omit<Extract<ToThread, { type: 'run' }>, 'dataset' | 'stop'> & { dataset: DatasetRequest })
  | { type: 'stop' };

/** A trainer process says what its training thread says. */
export type FromChild = FromThread;
