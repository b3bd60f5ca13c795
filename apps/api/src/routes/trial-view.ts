import type { getTrial } from '@lrsweep/db';
import type { TrialConfig } from '@lrsweep/sweep';

type TrialRow = NonNullable<Awaited<ReturnType<typeof getTrial>>>;

/** The final values of a trial's summaries whose names start with `prefix` (test_*: measured once, after its last update). */
function finalsOf(summaries: unknown, prefix: string): Record<string, number | null> {
  if (!summaries || typeof summaries !== 'object') return {};
  return Object.fromEntries(
    Object.entries(summaries as Record<string, { final?: number | null }>)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k, v?.final ?? null]),
  );
}

/** The last evaluation's validation metrics, by name. */
function finalValues(t: TrialRow): Record<string, number | null> {
  const out: Record<string, number | null> = finalsOf(t.summaries, 'val_');
  if (t.finalValLoss !== null) out.val_loss = t.finalValLoss;
  if (t.finalValAcc !== null) out.val_acc = t.finalValAcc;
  return out;
}

/** What the attempt used (null until a built-in worker recorded it). */
function provenanceOf(t: TrialRow) {
  if (!t.datasetChecksum && !t.tfjsVersion) return null;
  return {
    datasetChecksum: t.datasetChecksum,
    datasetPath: t.datasetPath,
    modelPath: t.modelPath,
    backend: t.backend,
    lrsweepVersion: t.lrsweepVersion,
    tfjsVersion: t.tfjsVersion,
    hardware:
      (t.hardware as {
        cpuModel: string;
        cpuCount: number;
        gpu: string | null;
        gpuMemoryMiB?: number | null;
        driver?: string | null;
        numerics?: string;
        resumedFromCpuModel?: string;
      } | null) ?? null,
  };
}

/** A trial as the API shows it. */
export function trialView(t: TrialRow) {
  const c = t.config as unknown as TrialConfig;
  return {
    id: t.id,
    sweepId: t.sweepId,
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
    final: finalValues(t),
    test: finalsOf(t.summaries, 'test_'),
    provenance: provenanceOf(t),
  };
}

/** The trials CSV: one row per trial, its outcome, test metrics and provenance. */
export function trialsCsvRows(trials: TrialRow[]): {
  header: string[];
  rows: (string | number | boolean | null | undefined)[][];
} {
  const views = trials.map(trialView);
  const finals = [...new Set(views.flatMap((v) => Object.keys(v.final)))].sort();
  const tests = [...new Set(views.flatMap((v) => Object.keys(v.test)))].sort();
  const header = [
    'trialId',
    'configId',
    'baseLr',
    'schedule',
    'seed',
    'values',
    'status',
    'attempt',
    'errorCode',
    'divergedAtStep',
    'totalSteps',
    'trainMs',
    ...finals.map((k) => `final_${k}`),
    ...tests,
    'datasetChecksum',
    'datasetPath',
    'modelPath',
    'backend',
    'lrsweepVersion',
    'tfjsVersion',
    'cpuModel',
    'cpuCount',
    'gpu',
    'workerId',
  ];
  const rows = views.map((v) => {
    const p = v.provenance;
    return [
      v.id,
      v.configId,
      v.config.baseLr,
      JSON.stringify(v.config.schedule),
      v.config.seed,
      v.config.values ? JSON.stringify(v.config.values) : '',
      v.status,
      v.attempt,
      v.errorCode,
      v.divergedAtStep,
      v.totalSteps,
      v.trainMs,
      ...finals.map((k) => v.final[k]),
      ...tests.map((k) => v.test[k]),
      p?.datasetChecksum,
      p?.datasetPath,
      p?.modelPath,
      p?.backend,
      p?.lrsweepVersion,
      p?.tfjsVersion,
      p?.hardware?.cpuModel,
      p?.hardware?.cpuCount,
      p?.hardware?.gpu,
      v.workerId,
    ];
  });
  return { header, rows };
}
