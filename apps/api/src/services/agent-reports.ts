// What a claimed trial's trainer reports while it trains: update rows (each rate checked against
// the schedule the server computes), evaluations, checkpoint markers, its parameter groups, and
// requests for the next rates. Every report is fenced by its attempt and renews the lease.
import { defaultDivergenceFactor, lrMatches, type ParamGroup } from '@lrsweep/contract';
import { countUpdates, type Db, trialEvaluations } from '@lrsweep/db';
import {
  declareParamGroups,
  failAttempt,
  handOffAtForkPoint,
  recordAgentCheckpoint,
  refreshTrialSummary,
  writeEvaluations,
  writeUpdates,
} from '@lrsweep/engine';
import type { TrialConfig } from '@lrsweep/sweep';
import { ApiError } from '../errors';
import type { AgentContext, AttemptRef, Owned, Report } from './agent-context';
import { refusePastRung } from './agent-rungs';
import { replayedSchedule } from './trial-schedule';

/** Update rows: checked against the schedule, stored (fenced by attempt), the lease renewed. */
export async function reportUpdates(
  ctx: AgentContext,
  a: AttemptRef,
  rows: { step: number; lr: number; loss: number | null }[],
): Promise<Report> {
  const { d } = ctx;
  const t = await ctx.fenced(a);
  const sorted = [...rows].sort((x, y) => x.step - y.step);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.step === sorted[i - 1]!.step)
      throw new ApiError('SPEC_INVALID', `update ${sorted[i]!.step} is in the batch twice`, [
        { path: 'updates', message: `step ${sorted[i]!.step} twice` },
      ]);
  }
  const over = sorted.find((r) => r.step >= t.totalSteps);
  if (over)
    throw new ApiError(
      'SPEC_INVALID',
      `update ${over.step} is past the horizon (${t.totalSteps} updates: 0 … ${t.totalSteps - 1})`,
      [{ path: 'updates', message: 'step past the horizon' }],
    );
  await refusePastRung(ctx, t, sorted.at(-1)!.step + 1, `update ${sorted.at(-1)!.step}`);
  const schedule = replayedSchedule(
    t.config.schedule,
    t.config.baseLr,
    t.totalSteps,
    await trialEvaluations(d.db, a.trialId),
    t.config.training.stepsPerEpoch,
  );
  for (const r of sorted) {
    const want = schedule.lrAt(r.step);
    if (!lrMatches(r.lr, want)) {
      const message = `update ${r.step} applied lr ${r.lr}, but the schedule gives ${want}: the trainer does not follow the trial's schedule`;
      const f = await failAttempt(d.db, a.trialId, a.attempt, { code: 'SCHEDULE_MISMATCH', message }, false);
      if (f.outcome === 'failed') await ctx.ended(t, 'failed');
      throw new ApiError('SCHEDULE_MISMATCH', message);
    }
  }
  const exploded = await explodedLoss(d.db, a.trialId, t.config, sorted);
  const bad = sorted.findIndex((r) => r.loss === null || exploded(r.loss));
  const kept = bad >= 0 ? sorted.slice(0, bad + 1) : sorted;
  const rowsKept = kept.map((r) => ({ step: r.step, lr: r.lr, trainLoss: r.loss }));
  if (!(await writeUpdates(d.db, a.trialId, a.attempt, rowsKept))) return ctx.stale(a);
  // NaN or ±Infinity (sent as null): the trial diverged at that update.
  if (bad >= 0) return ctx.diverge(t, a.attempt, sorted[bad]!.step);
  return ctx.renew(a, true);
}

/**
 * A range test's divergence rule, as the built-in trainer's: a loss over `divergenceFactor` (default
 * ${defaultDivergenceFactor}) × the first update's ends the ramp. Other trials diverge on NaN/Inf only.
 */
async function explodedLoss(
  db: Db,
  trialId: string,
  config: TrialConfig,
  sorted: { step: number; loss: number | null }[],
): Promise<(loss: number | null) => boolean> {
  const factor = config.training.divergenceFactor ?? defaultDivergenceFactor;
  if (!config.rangeTest || factor === false) return () => false;
  const first =
    sorted[0]?.step === 0
      ? sorted[0].loss
      : ((
          await db.$queryRaw<{ loss: number | null }[]>`
            SELECT train_loss AS loss FROM update_metrics WHERE trial_id = ${trialId}::uuid AND step = 0`
        )[0]?.loss ?? null);
  if (first === null || !Number.isFinite(first)) return () => false;
  return (loss) => loss !== null && loss > factor * first;
}

/** An evaluation after `step` updates: val_*, train_*, and test_* at the last step only. */
export async function reportEvaluation(
  ctx: AgentContext,
  a: AttemptRef,
  step: number,
  metrics: Record<string, number | null>,
): Promise<Report> {
  const { d } = ctx;
  const t = await ctx.fenced(a);
  if (step > t.totalSteps)
    throw new ApiError('SPEC_INVALID', `an evaluation after ${step} updates is past the horizon (${t.totalSteps})`, [
      { path: 'step', message: 'past the horizon' },
    ]);
  await refusePastRung(ctx, t, step, `an evaluation after ${step} updates`);
  const tests = Object.keys(metrics).filter((m) => m.startsWith('test_'));
  if (tests.length && step !== t.totalSteps) {
    throw new ApiError(
      'SPEC_INVALID',
      `${tests.join(', ')} may be reported only after the last update (step ${t.totalSteps})`,
      [{ path: 'metrics', message: 'test_* only at the horizon' }],
    );
  }
  const { val_loss: valLoss, val_acc: valAcc, train_loss: trainLoss, ...rest } = metrics;
  // train_loss not reported: the mean loss of the updates since the previous evaluation.
  const meanLoss = trainLoss === undefined ? await meanTrainLoss(d.db, a.trialId, step) : trainLoss;
  const ok = await writeEvaluations(d.db, a.trialId, a.attempt, [
    { step, valLoss: valLoss ?? null, valAcc: valAcc ?? null, trainLoss: meanLoss, metrics: rest },
  ]);
  if (!ok) return ctx.stale(a);
  await refreshTrialSummary(d.db, a.trialId, a.attempt);
  // A non-finite metric (sent as null): the trial diverged at the update before this evaluation.
  if (Object.values(metrics).some((v) => v === null)) return ctx.diverge(t, a.attempt, Math.max(0, step - 1));
  return ctx.renew(a, true);
}

/** The attempt's optimizer parameter groups, declared once (the same declaration again is fine). */
export async function reportParamGroups(ctx: AgentContext, a: AttemptRef, groups: ParamGroup[]): Promise<Report> {
  await ctx.fenced(a);
  if ((await declareParamGroups(ctx.d.db, a.trialId, a.attempt, groups)) === 'conflict')
    throw new ApiError(
      'PARAM_GROUPS_DECLARED',
      `attempt ${a.attempt} declared other parameter groups already: they are declared once per attempt`,
    );
  return ctx.renew(a, false);
}

/** A checkpoint marker covering updates 0 … step: refused while any of those rows is missing. */
export async function reportCheckpoint(ctx: AgentContext, a: AttemptRef, step: number, uri: string): Promise<Report> {
  const t = await ctx.fenced(a);
  if (step >= t.totalSteps)
    throw new ApiError('SPEC_INVALID', `a marker after update ${step} is past the horizon`, [
      { path: 'step', message: 'past the horizon' },
    ]);
  await refusePastRung(ctx, t, step + 1, `a marker after update ${step}`);
  const have = await countUpdates(ctx.d.db, a.trialId, step);
  if (have !== step + 1)
    throw new ApiError(
      'CHECKPOINT_INCOMPLETE',
      `the marker covers updates 0 … ${step}, but ${step + 1 - have} of their rows have not been sent`,
    );
  if (!(await recordAgentCheckpoint(ctx.d.db, a.trialId, a.attempt, step, uri))) return ctx.stale(a);
  await handOffForks(ctx, a, t, step + 1, uri);
  return ctx.renew(a, true);
}

/**
 * A trunk's marker at a fork point (after `done` updates): each fork waiting there gets the
 * checkpoint (its uri: the trainer keeps the file), the trunk's rows before it, and a delivery;
 * its agent resumes at `done` on its own horizon's schedule. A handoff that fails loses nothing:
 * the fork runs independently once the trunk ends (afterTrial, or the reconciler).
 */
async function handOffForks(ctx: AgentContext, a: AttemptRef, t: Owned, done: number, uri: string) {
  for (const f of (t.config.forks ?? []).filter((f) => f.atStep === done))
    await handOffAtForkPoint(
      { db: ctx.d.db, queue: ctx.d.queue, ...(ctx.d.log ? { log: ctx.d.log } : {}) },
      {
        trunkId: a.trialId,
        trunkAttempt: a.attempt,
        trunkIdentity: t.identity,
        forkIdentity: f.identity,
        step: done,
        backend: null,
      },
      async () => uri,
    );
}

/** The schedule's rates for `count` updates from `from`, given the evaluations reported so far. */
export async function nextRates(ctx: AgentContext, a: AttemptRef, from: number, count: number) {
  const t = await ctx.fenced(a);
  return ctx.ratesOf(a.trialId, t.config, t.totalSteps, from, count);
}

/** The mean loss of the updates after the previous evaluation, up to `step` updates. */
async function meanTrainLoss(db: Db, trialId: string, step: number): Promise<number | null> {
  const [r] = await db.$queryRaw<{ mean: number | null }[]>`
    SELECT avg(u.train_loss) AS mean FROM update_metrics u
     WHERE u.trial_id = ${trialId}::uuid AND u.step < ${step}
       AND u.step >= coalesce((SELECT max(e.step) FROM evaluations e WHERE e.trial_id = ${trialId}::uuid AND e.step < ${step}), 0)`;
  return r?.mean ?? null;
}
