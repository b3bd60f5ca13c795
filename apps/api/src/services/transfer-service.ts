import { type Objective, type TransferAnswer, transferWidthAxis, type TransferSpec } from '@lrsweep/contract';
import { type Db, getSweep, transferTrials } from '@lrsweep/db';
import { describeSchedule, type ScheduleSpec } from '@lrsweep/schedules';
import { analyzeTransfer, canonicalJson, sha256 } from '@lrsweep/sweep';
import { ApiError, notFound } from '../errors';

export interface TransferQuery {
  targetWidth?: number;
  targetSteps?: number;
}

/**
 * GET /v1/sweeps/:id/transfer: η* per schedule and scale with intervals, the law across scales and
 * its extrapolation to the target (the query's, else the spec's), the rankings per scale, τ, and
 * whether the winner changes. The sweep's objective decides what "best" means.
 */
export async function sweepTransfer(
  d: { db: Db },
  sweepId: string,
  projectId: string,
  q: TransferQuery,
): Promise<TransferAnswer> {
  const sweep = await getSweep(d.db, sweepId, projectId);
  if (!sweep) throw notFound('sweep', sweepId);
  const t = (sweep.spec as { transfer?: TransferSpec }).transfer;
  if (!t)
    throw new ApiError(
      'NOT_A_TRANSFER_STUDY',
      'this sweep marks no scale axis: give its spec a transfer block (transfer.width.from: "grid.config.<key>", or transfer.length.from: "grid.horizon")',
    );
  const objective = sweep.objective as Objective;
  // Undeclared: the built-in model's own (model.parametrization), else standard.
  const model = (sweep.spec as { model?: { parametrization?: 'standard' | 'mup' } }).model;
  const parametrization = t.parametrization ?? model?.parametrization ?? 'standard';
  const rows = await transferTrials(d.db, sweepId, objective.metric, objective.aggregate, objective.mode);
  // grid.scale's multipliers are stored as each configuration's values.scale.
  const widthKey = !t.width
    ? undefined
    : t.width.from === 'grid.scale'
      ? 'scale'
      : transferWidthAxis.exec(t.width.from)?.[1];
  const baseWidth = t.baseWidth ?? 1;
  const width = t.width ? { baseWidth, target: q.targetWidth ?? t.target?.width ?? null } : undefined;
  const length = t.length ? { target: q.targetSteps ?? t.target?.steps ?? null } : undefined;
  // A series is one schedule with the trainer's other axes fixed (weight decay …): the width
  // axis (and the horizon) are what it runs along.
  const series = new Map<string, { key: string; label: string }>();
  // Per configuration (its seeds share it): the canonical JSON is worked out once, not per trial.
  const byConfig = new Map<string, { key: string; label: string }>();
  const seriesOf = (schedule: unknown, values: Record<string, unknown> | null) => {
    const others = Object.fromEntries(Object.entries(values ?? {}).filter(([k]) => k !== widthKey));
    const id = canonicalJson({ schedule, others });
    let s = series.get(id);
    if (!s) {
      const extra = Object.entries(others)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${String(v)}`);
      const label = [describeSchedule(schedule as ScheduleSpec), ...extra].join(' · ');
      s = { key: sha256(id).slice(0, 16), label };
      series.set(id, s);
    }
    return s;
  };
  const a = analyzeTransfer(
    rows.map((r) => {
      let s = byConfig.get(r.config_id);
      if (!s) {
        s = seriesOf(r.schedule, r.values);
        byConfig.set(r.config_id, s);
      }
      const w = widthKey !== undefined ? r.values?.[widthKey] : undefined;
      return {
        scheduleKey: s.key,
        schedule: s.label,
        lr: r.base_lr,
        width: typeof w === 'number' ? w : null,
        steps: t.length ? r.horizon : null,
        seed: r.seed,
        status: r.status,
        value: r.value,
      };
    }),
    {
      mode: objective.mode,
      ...(width ? { width } : {}),
      ...(length ? { length } : {}),
      parametrization,
    },
  );
  return {
    objective: { metric: objective.metric, mode: objective.mode, aggregate: objective.aggregate },
    width: t.width ? { from: t.width.from, baseWidth, target: width?.target ?? null } : null,
    length: t.length ? { from: 'grid.horizon', target: length?.target ?? null } : null,
    parametrization,
    ...a,
  };
}
