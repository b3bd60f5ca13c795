// How a claimed trial's attempt ends, as the agent reports it: completed (every update sent),
// failed (within the failure budget it goes back to the queue), or released (the agent is
// stopping: another agent resumes it, no budget spent). Each ending runs the engine's afterTrial.
import { failAttempt, finishTrial, releaseTrial, trialForReport } from '@lrsweep/engine';
import { countUpdates } from '@lrsweep/db';
import { ApiError } from '../errors';
import type { AgentContext, AttemptRef } from './agent-context';

/** Completes the trial; a repeated completion by the attempt that completed it answers the same (a lost answer, retried). */
export async function complete(ctx: AgentContext, a: AttemptRef) {
  const { d } = ctx;
  const t = await ctx.fenced(a).catch(async (err: unknown) => {
    if (err instanceof ApiError && err.code === 'STALE_ATTEMPT' && err.reason === 'ended') {
      const again = await trialForReport(d.db, a.trialId, a.caller.projectId);
      if (again?.status === 'completed' && again.attempt === a.attempt) return null;
    }
    throw err;
  });
  if (!t) return { ok: true as const, status: 'completed' };
  const have = await countUpdates(d.db, a.trialId, t.totalSteps - 1);
  if (have !== t.totalSteps)
    throw new ApiError(
      'TRIAL_NOT_DONE',
      `the trial has ${have} of its ${t.totalSteps} updates; send them all before completing`,
    );
  if (!(await finishTrial(d.db, a.trialId, a.attempt, 'completed', { stepsDone: t.totalSteps }))) return ctx.stale(a);
  await ctx.ended(t, 'completed');
  return { ok: true as const, status: 'completed' };
}

export async function fail(ctx: AgentContext, a: AttemptRef, message: string, retryable: boolean) {
  const { d } = ctx;
  const t = await ctx.fenced(a);
  const code = retryable ? 'TRAINER_RETRYABLE' : 'TRAINER_FAILED';
  const r = await failAttempt(d.db, a.trialId, a.attempt, { code, message }, retryable);
  if (r.outcome === 'superseded') return ctx.stale(a);
  if (r.outcome === 'requeued')
    await d.queue
      .enqueueTrials([r.delivery])
      .catch((err) => d.log?.warn({ err }, 'could not enqueue; the reconciler will'));
  await ctx.ended(t, r.outcome === 'requeued' ? 'retried' : 'failed');
  return { ok: true as const, status: r.outcome === 'requeued' ? 'queued' : 'failed' };
}

/** Gives the trial back (the agent is stopping): another agent resumes it; no budget spent. */
export async function release(ctx: AgentContext, a: AttemptRef) {
  const { d } = ctx;
  await ctx.fenced(a);
  const delivery = await releaseTrial(d.db, a.trialId, a.attempt);
  if (!delivery) return ctx.stale(a);
  await d.queue
    .enqueueTrials([delivery])
    .catch((err) => d.log?.warn({ err }, 'could not enqueue; the reconciler will'));
  return { ok: true as const, status: 'queued' };
}
