import type { TrialErrorCode } from '@lrsweep/contract';

/**
 * What a training failure is, as seen where it happened: coded errors keep their code (a
 * missing dataset is DATASET_INVALID, an invalid schedule CONFIG_INVALID); a backend out of memory (the wasm heap cannot grow, an
 * allocation fails, the module aborts) is RESOURCE_EXHAUSTED; anything else TF.js raises is
 * TRAINING_ERROR (deterministic: the same config fails again).
 */
export function classifyTrainingError(err: unknown): TrialErrorCode {
  // An invalid schedule or option that slipped past validation (a stored config edited by hand).
  if ((err as { code?: unknown } | null)?.code === 'SPEC_INVALID') return 'CONFIG_INVALID';
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  if (
    /Aborted\(|memory access out of bounds|out of memory|Maximum memory size|Array buffer allocation failed|Cannot allocate|Invalid typed array length|WebAssembly\.Memory|OOM|unreachable/i.test(
      message,
    )
  ) {
    return 'RESOURCE_EXHAUSTED';
  }
  return 'TRAINING_ERROR';
}
