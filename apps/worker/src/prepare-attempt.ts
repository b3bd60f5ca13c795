import { TrialError } from '@lrsweep/contract';
import type { ClaimedTrial, RecordedNumerics } from '@lrsweep/engine';
import type { BuiltinTrialConfig } from '@lrsweep/sweep';
import {
  type Dataset,
  type DatasetRequest,
  estimateTrialMemory,
  type LayersArtifacts,
  mib,
  readLayersModel,
  type TrainerState,
} from '@lrsweep/trainer';
import type { Logger } from 'pino';
import { relativeToRoot, resolveDataset, resolveModelFiles } from './data-root';
import type { TrialRunnerDeps } from './run-trial';

/**
 * A trial that cannot fit its slot by estimate (model, data, batch, optimizer: estimateTrialMemory)
 * is refused before it trains, for good (RESOURCE_EXHAUSTED: no retry on this worker mends it),
 * with the numbers — rather than run a backend out of memory, or take the machine's down with it.
 */
function refuseOverBudget(config: BuiltinTrialConfig, dataset: Dataset, budgetMb: number) {
  const need = estimateTrialMemory(config.model, dataset, config.training.batchSize, config.optimizer);
  if (!need || mib(need.totalBytes) * estimateScale <= budgetMb) return;
  throw new TrialError(
    'RESOURCE_EXHAUSTED',
    `the trial needs about ${mib(need.totalBytes)} MiB by estimate (${mib(need.paramBytes)} MiB of weights, gradients and optimizer state for ${need.params} parameters; ${mib(need.activationBytes)} MiB of activations at batch ${config.training.batchSize}), over this worker's ${budgetMb} MiB a slot (WORKER_SLOT_MEMORY_MB): use a smaller batch or model, or workers with more memory a slot`,
  );
}

/**
 * Test hook (never a user setting): scales the estimate the refusal compares, so a test can let a
 * trial past it and have it run out of memory under its trainer's allocator cap instead.
 */
const estimateScale = Number(process.env.LRSWEEP_TEST_ESTIMATE_SCALE) || 1;

/** What a trial trains on, read before its trainer process starts it. */
export interface Prepared {
  dataset: Dataset;
  /** What the trainer process loads (its own copy: a process shares no memory with the worker). */
  datasetRequest: DatasetRequest;
  /** A Layers model's files (a `layers` spec). */
  layers?: LayersArtifacts;
  /** The files read, relative to DATA_ROOT and MODEL_ROOT (provenance). */
  datasetPath: string | null;
  modelPath: string | null;
  resume?: TrainerState;
}

/** What a trial trains with once its sweep's numerics key is settled. */
export interface Ready extends Prepared {
  numerics: RecordedNumerics;
}

/**
 * The trial's dataset (loaded once per process), its Layers model's files, and the checkpoint an
 * earlier attempt left. Data or a model that cannot be read fails the trial at once
 * (DATASET_INVALID, MODEL_INVALID: no retry mends them).
 */
export async function prepare(d: TrialRunnerDeps, claimed: ClaimedTrial, log: Logger): Promise<Prepared> {
  const config = claimed.config as BuiltinTrialConfig;
  const req = resolveDataset(config.dataset, d.dataRoot);
  const dataset = d.datasets.get(req);
  if (d.slotMemoryMb !== undefined) refuseOverBudget(config, dataset, d.slotMemoryMb);
  const out: Prepared = {
    dataset,
    datasetRequest: req,
    datasetPath: config.dataset.path === undefined ? null : relativeToRoot(d.dataRoot, req.path!),
    modelPath: null,
  };
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
