// An ASHA trial's rungs on an external trainer, as on a built-in worker (asha-rung.ts in
// @lrsweep/trainer): after the rung's budget of updates the trainer reports its checkpoint marker,
// trains the cooldown side branch at the rates the server gives (checked, and kept out of the
// main series), evaluates, and reports the rung. The engine stores the estimate and takes the
// decisions it settles; the answer stops the attempt: the trial waits at its rung (`paused`),
// and goes on from that checkpoint, in a new attempt, once its configuration is promoted.
import { lrMatches, type RungAnswer } from '@lrsweep/contract';
import { failAttempt, pauseAtRung } from '@lrsweep/engine';
import { type CooldownShape, decayShapeFactor } from '@lrsweep/schedules';
import { nextRungOf, type TrialConfig } from '@lrsweep/sweep';
import { ApiError } from '../errors';
import type { AgentContext, AttemptRef, Owned, Report } from './agent-context';

/** Where a trial that has been judged at `reached` rungs pauses next, and how it is judged there. */
export function nextRungFor(cfg: TrialConfig, reached: number) {
  const r = cfg.asha ? nextRungOf(cfg.asha, reached) : undefined;
  if (!r) return undefined;
  const cooldown: { steps: number; shape: CooldownShape } | null = r.estimate === 'raw' ? null : r.estimate;
  return { index: reached, step: r.step, metric: r.metric, cooldownSteps: cooldown?.steps ?? 0, cooldown };
}
type Rung = NonNullable<ReturnType<typeof nextRungFor>>;

/**
 * Refuses a report past the trial's next rung (an update at step ≥ the rung's budget, an
 * evaluation or marker after it): the attempt pauses there, and the side branch stays out of the
 * main series. `after`: updates done by the report (an update at step s: s + 1).
 */
export async function refusePastRung(ctx: AgentContext, t: Owned, after: number, what: string) {
  if (!t.config.asha) return;
  const rung = nextRungFor(t.config, t.rungsReached);
  if (rung && after > rung.step)
    throw new ApiError(
      'SPEC_INVALID',
      `${what} is past this trial's rung: it pauses after ${rung.step} updates (marker after update ${rung.step - 1}, then POST …/rung)`,
      [{ path: what.startsWith('update') ? 'updates' : 'step', message: `past the rung at ${rung.step} updates` }],
    );
}

/** The fenced trial and its next rung (409 NO_RUNG without one). */
async function rungOf(ctx: AgentContext, a: AttemptRef) {
  const t = await ctx.fenced(a);
  const rung = nextRungFor(t.config, t.rungsReached);
  if (!rung)
    throw new ApiError(
      'NO_RUNG',
      t.config.asha
        ? `trial ${t.id} is past its last rung: it trains to its horizon (${t.totalSteps} updates)`
        : `trial ${t.id} is not an ASHA trial: it has no rungs`,
    );
  return { t, rung, checkpointStep: t.checkpointStep };
}

/** The side branch's rates: update `i` of `c` at the schedule's rate at the rung × shape(i / c), as the built-in trainer's. */
async function cooldownRates(ctx: AgentContext, t: Owned, rung: Rung): Promise<number[]> {
  if (!rung.cooldown) return [];
  const { steps: c, shape } = rung.cooldown;
  const [at] = (await ctx.ratesOf(t.id, t.config, t.totalSteps, rung.step, 1)).lr;
  return Array.from({ length: c }, (_, i) => at! * decayShapeFactor(shape, i / c));
}

/** GET …/rung: the next rung and its side branch's rates. */
export async function rungCooldown(ctx: AgentContext, a: AttemptRef): Promise<RungAnswer> {
  const { t, rung } = await rungOf(ctx, a);
  return { index: rung.index, step: rung.step, metric: rung.metric, lr: await cooldownRates(ctx, t, rung) };
}

/**
 * POST …/rung: the side branch's rows (each rate checked) and the evaluation after it. The
 * estimate is the rung metric's value (null, out of the running, when a side-branch loss or the
 * metric is NaN/±Infinity). Needs the rung's marker first: a promoted trial resumes from it.
 */
export async function reportRung(
  ctx: AgentContext,
  a: AttemptRef,
  body: { index: number; cooldown: { lr: number; loss: number | null }[]; metrics: Record<string, number | null> },
): Promise<Report> {
  const { d } = ctx;
  const { t, rung, checkpointStep } = await rungOf(ctx, a);
  if (body.index !== rung.index)
    throw new ApiError(
      'NO_RUNG',
      `rung ${body.index} is not this trial's next: that is rung ${rung.index}, after ${rung.step} updates`,
    );
  if (checkpointStep !== rung.step)
    throw new ApiError(
      'CHECKPOINT_INCOMPLETE',
      `a rung is judged from its checkpoint: report the marker after update ${rung.step - 1} first (POST …/checkpoints)`,
    );
  if (body.cooldown.length !== rung.cooldownSteps)
    throw new ApiError(
      'SPEC_INVALID',
      `the rung's cooldown is ${rung.cooldownSteps} updates; ${body.cooldown.length} were reported`,
      [{ path: 'cooldown', message: `${rung.cooldownSteps} rows` }],
    );
  if (!(rung.metric in body.metrics))
    throw new ApiError('SPEC_INVALID', `the rung is judged on ${rung.metric}: report it`, [
      { path: 'metrics', message: `${rung.metric} missing` },
    ]);
  const want = await cooldownRates(ctx, t, rung);
  const off = body.cooldown.findIndex((r, i) => !lrMatches(r.lr, want[i]!));
  if (off >= 0) {
    const message = `cooldown update ${off} of rung ${rung.index} applied lr ${body.cooldown[off]!.lr}, but the rung's cooldown gives ${want[off]}: the trainer does not follow the trial's schedule`;
    const f = await failAttempt(d.db, a.trialId, a.attempt, { code: 'SCHEDULE_MISMATCH', message }, false);
    if (f.outcome === 'failed') await ctx.ended(t, 'failed');
    throw new ApiError('SCHEDULE_MISMATCH', message);
  }
  const diverged = body.cooldown.some((r) => r.loss === null);
  const value = diverged ? null : (body.metrics[rung.metric] ?? null);
  const r = await pauseAtRung(
    { db: d.db, queue: d.queue, ...(d.log ? { log: d.log } : {}) },
    { trialId: t.id, attempt: a.attempt, rung: rung.index, step: rung.step, value, cooldownSteps: rung.cooldownSteps },
  );
  if (!r.recorded) return ctx.stale(a);
  // A place freed under maxParallel: the next held trial starts, as after a worker's pause.
  await ctx.ended(t, 'paused');
  d.log?.info(
    { trialId: t.id, rung: rung.index, step: rung.step, value, promoted: r.promoted, pruned: r.prunedTrials },
    'trial judged at a rung',
  );
  return { ok: true, shouldStop: true, leaseExpiresAt: null, status: r.pruned ? 'pruned' : 'paused' };
}
