import type { getTrial } from '@lrsweep/db';
import type { TrialConfig } from '@lrsweep/sweep';

type TrialRow = NonNullable<Awaited<ReturnType<typeof getTrial>>>;

/** A trial as the API shows it. */
export function trialView(t: TrialRow) {
  const c = t.config as unknown as TrialConfig;
  return {
    id: t.id,
    configId: t.configId,
    config: { baseLr: c.baseLr, schedule: c.schedule, seed: c.seed },
    status: t.status,
    attempt: t.attempt,
    totalSteps: t.totalSteps,
    workerId: t.workerId,
    backend: t.backend,
    queuedAt: t.queuedAt.toISOString(),
    startedAt: t.startedAt?.toISOString() ?? null,
    trainingStartedAt: t.trainingStartedAt?.toISOString() ?? null,
    trainMs: t.trainMs,
    finishedAt: t.finishedAt?.toISOString() ?? null,
    error: t.error,
    divergedAtStep: t.divergedAtStep,
    finalValLoss: t.finalValLoss,
    finalValAcc: t.finalValAcc,
  };
}
