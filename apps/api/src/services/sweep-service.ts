// The sweeps' use cases, one file each over a shared context (sweep-context.ts): validate and
// submit (sweep-submit.ts), extend (sweep-extend.ts), cancel, delete and retry
// (sweep-lifecycle.ts). This file gives the routes one object with them.
import type { ExtendSweep, SweepSpec } from '@lrsweep/contract';
import { type SweepServiceDeps, sweepContext } from './sweep-context';
import { extendSweepGrid } from './sweep-extend';
import { cancelSweepTrials, removeSweep, retrySweep } from './sweep-lifecycle';
import { submitSweep, validateSweep } from './sweep-submit';

export { type SweepServiceDeps, within } from './sweep-context';

export function createSweepService(deps: SweepServiceDeps) {
  const ctx = sweepContext(deps);
  return {
    validate: (spec: SweepSpec) => validateSweep(ctx, spec),
    submit: (spec: SweepSpec, projectId: string, idempotencyKey?: string) =>
      submitSweep(ctx, spec, projectId, idempotencyKey),
    cancel: (sweepId: string, projectId: string) => cancelSweepTrials(ctx, sweepId, projectId),
    remove: (sweepId: string, projectId: string) => removeSweep(ctx, sweepId, projectId),
    extend: (sweepId: string, projectId: string, body: ExtendSweep, idempotencyKey?: string) =>
      extendSweepGrid(ctx, sweepId, projectId, body, idempotencyKey),
    retry: (sweepId: string, projectId: string) => retrySweep(ctx, sweepId, projectId),
  };
}
