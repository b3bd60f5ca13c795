import { type ClaimedTrial, type RecordedNumerics, settleSweepNumerics, sweepShapes } from '@lrsweep/engine';
import type { BuiltinTrialConfig } from '@lrsweep/sweep';
import { type Dataset, estimateTrialMemory, type TrainConfig } from '@lrsweep/trainer';
import type { Logger } from 'pino';
import type { Prepared } from './prepare-attempt';
import type { TrialRunnerDeps } from './run-trial';
import { trainConfigOf } from './train-config';
import type { TrainingSlot } from './training-slot';

/** Where a claimed trial trains: under its sweep's key here, or elsewhere (this worker cannot run that key). */
export type NumericsDecision =
  | { kind: 'train'; numerics: RecordedNumerics }
  | { kind: 'elsewhere'; numerics: RecordedNumerics };

/**
 * The numerics key a claimed trial trains under: its sweep's, recorded once. The claim checked that
 * this worker can run a recorded key; before there is one, this worker proposes its own (the
 * spec's backend, LRSWEEP_BACKEND, or a probe of the sweep's largest shape) with a compare-and-set
 * on the sweep, and another worker's key recorded first wins: where this worker cannot run it, the
 * trial goes back to the queue for one that can.
 */
export async function sweepNumericsFor(
  d: TrialRunnerDeps,
  claimed: ClaimedTrial,
  slot: TrainingSlot,
  { dataset, datasetRequest }: Pick<Prepared, 'dataset' | 'datasetRequest'>,
  log: Logger,
): Promise<NumericsDecision> {
  if (claimed.numerics) return { kind: 'train', numerics: claimed.numerics as RecordedNumerics };
  const config = await largestShape(d, claimed, dataset);
  const plan = await slot.choose(trainConfigOf(config), datasetRequest);
  const numerics = await settleSweepNumerics(d.db, claimed.sweepId, {
    key: plan.key,
    reason: plan.reason,
    chosenBy: d.workerId,
  });
  const mine = d.numerics().includes(numerics.id);
  log.info(
    { numerics: numerics.id, why: numerics.reason, proposed: plan.reason, chosenBy: numerics.chosenBy },
    mine ? "the sweep's numerics key" : "the sweep's numerics key is one this worker cannot run: releasing the trial",
  );
  return { kind: mine ? 'train' : 'elsewhere', numerics };
}

/**
 * The config of the sweep's largest shape (by memory estimate): a sweep over widths is keyed by
 * the shape where backends differ most. One shape: the trial's own.
 */
async function largestShape(d: TrialRunnerDeps, claimed: ClaimedTrial, dataset: Dataset): Promise<BuiltinTrialConfig> {
  const own = claimed.config as BuiltinTrialConfig;
  if (own.model.kind === 'layers') return own;
  const shapes = (await sweepShapes(d.db, claimed.sweepId)) as BuiltinTrialConfig[];
  const size = (c: BuiltinTrialConfig) =>
    estimateTrialMemory(c.model, dataset, c.training.batchSize, c.optimizer)?.totalBytes ?? 0;
  return shapes.reduce((best, c) => (size(c) > size(best) ? c : best), own);
}

/** The trial's config with the backend its sweep's key names (the spec's own wins nowhere else: the key came from it). */
export function underKey(config: TrainConfig, numerics: RecordedNumerics): TrainConfig {
  const b = numerics.key.backend;
  return b === 'wasm' || b === 'tensorflow' ? { ...config, backend: b } : config;
}
