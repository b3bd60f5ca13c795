import type { getTrial } from '@lrsweep/db';
import type { TrialConfig } from '@lrsweep/sweep';

type TrialRow = NonNullable<Awaited<ReturnType<typeof getTrial>>>;

/** The test_* metrics of a trial's summaries (measured once, after its last update). */
function testMetricsOf(summaries: unknown): Record<string, number | null> {
  if (!summaries || typeof summaries !== 'object') return {};
  return Object.fromEntries(
    Object.entries(summaries as Record<string, { final?: number | null }>)
      .filter(([k]) => k.startsWith('test_'))
      .map(([k, v]) => [k, v?.final ?? null]),
  );
}

/** A trial as the API shows it. */
export function trialView(t: TrialRow) {
  const c = t.config as unknown as TrialConfig;
  return {
    id: t.id,
    configId: t.configId,
    config: { baseLr: c.baseLr, schedule: c.schedule, seed: c.seed, ...(c.values ? { values: c.values } : {}) },
    status: t.status,
    attempt: t.attempt,
    failures: t.failures,
    failureBudget: t.failureBudget,
    totalSteps: t.totalSteps,
    pool: t.pool,
    workerId: t.workerId,
    backend: t.backend,
    queuedAt: t.queuedAt.toISOString(),
    startedAt: t.startedAt?.toISOString() ?? null,
    trainingStartedAt: t.trainingStartedAt?.toISOString() ?? null,
    trainMs: t.trainMs,
    finishedAt: t.finishedAt?.toISOString() ?? null,
    error: t.error,
    errorCode: t.errorCode,
    divergedAtStep: t.divergedAtStep,
    finalValLoss: t.finalValLoss,
    finalValAcc: t.finalValAcc,
    test: testMetricsOf(t.summaries),
  };
}
