import { defaultDivergenceFactor } from '@lrsweep/contract';
import type { ScheduleSpec } from '@lrsweep/schedules';
import type { BuiltinTrialConfig } from '@lrsweep/sweep';
import type { TrainConfig } from '@lrsweep/trainer';

/** The metric a plateau schedule observes, wherever it sits in the spec. */
function plateauMetricOf(s: ScheduleSpec): TrainConfig['plateauMetric'] {
  if (s.kind === 'reduce_on_plateau') return s.metric;
  if (s.kind === 'sequential') {
    for (const p of s.parts) {
      const m = plateauMetricOf(p);
      if (m) return m;
    }
  }
  return undefined;
}

/** What the trainer runs for a trial's stored config (the worker's, and the benchmarks' bare runs). */
export function trainConfigOf(config: BuiltinTrialConfig): TrainConfig {
  return {
    model: config.model,
    optimizer: config.optimizer,
    training: config.training,
    baseLr: config.baseLr,
    schedule: config.schedule,
    seed: config.seed,
    plateauMetric: plateauMetricOf(config.schedule),
    backend: config.training.backend,
    divergenceFactor:
      config.training.divergenceFactor === false
        ? undefined
        : (config.training.divergenceFactor ?? defaultDivergenceFactor),
  };
}
