import { randomUUID } from 'node:crypto';
import { type Caller, type ClaimedTrial, can, jobCatalog, poolQueueName } from '@lrsweep/contract';
import { callerById, heartbeatAgent } from '@lrsweep/db';
import { claimTrialForAgent, trialState } from '@lrsweep/engine';
import { createTrialFetcher, type Job } from '@lrsweep/queue';
import type { TrialConfig } from '@lrsweep/sweep';
import { nextRungFor } from './agent-rungs';
import { ApiError } from '../errors';
import type { AgentContext, AgentServiceDeps } from './agent-context';

/** The next trial of the agent's pool, or null when none came within `waitMs`. */
export async function claim(
  ctx: AgentContext,
  caller: Caller,
  agentId: string,
  waitMs: number,
  gone: AbortSignal,
  revoked: AbortSignal,
): Promise<ClaimedTrial | null> {
  const agent = await ctx.mustAgent(caller, agentId);
  await heartbeatAgent(ctx.d.db, agentId, caller.projectId);
  const claimed = await pollForTrial(ctx.d, caller, agent, waitMs, gone, revoked);
  return claimed ? claimView(ctx, claimed) : null;
}

/** The claimed trial as the agent needs it, with its first chunk of rates. */
async function claimView(
  ctx: AgentContext,
  c: NonNullable<Awaited<ReturnType<typeof claimTrialForAgent>>>,
): Promise<ClaimedTrial> {
  const cfg = c.config as unknown as TrialConfig;
  const resumeStep = c.checkpointStep ?? 0;
  const runnerConfig = cfg.runner?.kind === 'external' ? cfg.runner.config : {};
  const rung = nextRungFor(cfg, c.rungsReached);
  return {
    id: c.trialId,
    sweepId: c.sweepId,
    attempt: c.attempt,
    leaseMs: ctx.d.leaseMs,
    seed: cfg.seed,
    baseLr: cfg.baseLr,
    schedule: cfg.schedule,
    totalSteps: c.totalSteps,
    evalEvery: cfg.training.evalEvery,
    stepsPerEpoch: cfg.training.stepsPerEpoch ?? null,
    leaseToken: c.leaseToken,
    config: { ...runnerConfig, ...(cfg.values ?? {}) },
    resumeStep,
    checkpointUri: c.checkpointStep ? c.checkpointPath : null,
    // A trunk's fork points (after `atStep` updates) and the next rung: the markers after update atStep − 1.
    mustCheckpointAt: [...(cfg.forks ?? []).map((f) => f.atStep), ...(rung ? [rung.step] : [])]
      .map((s) => s - 1)
      .filter((s) => s >= resumeStep),
    rung: rung ? { index: rung.index, step: rung.step, metric: rung.metric, cooldownSteps: rung.cooldownSteps } : null,
    lr: await ctx.ratesOf(c.trialId, cfg, c.totalSteps, Math.floor(resumeStep / 1000) * 1000, 1000),
  };
}

/**
 * A claim's long poll: the next trial of the agent's pool, waiting up to `waitMs` for one (on a
 * Redis connection of its own). A delivery whose trial is not claimable is dropped (or, while
 * another attempt holds its lease, put back until the lease could lapse), as a worker would.
 * Right before a trial is handed out the token is checked again in Postgres (not the cache);
 * `revoked` (the token was revoked meanwhile) ends the poll at once with 401. Either way a
 * delivery fetched but not handed out goes back to the queue, no attempt spent.
 */
export async function pollForTrial(
  d: AgentServiceDeps,
  caller: Caller,
  agent: { id: string; name: string; pool: string },
  waitMs: number,
  gone: AbortSignal,
  revoked: AbortSignal,
) {
  const fetcher = createTrialFetcher({
    queueName: poolQueueName(caller.projectId, agent.pool, 'external'),
    connection: d.blockingRedis(),
    prefix: d.prefix,
    onError: (err) => d.log?.warn({ err }, 'agent claim: queue error'),
  });
  const token = randomUUID();
  const deadline = Date.now() + waitMs;
  const stop = AbortSignal.any([gone, revoked]);
  const stopped = new Promise<'stopped'>((resolve) =>
    stop.aborted ? resolve('stopped') : stop.addEventListener('abort', () => resolve('stopped'), { once: true }),
  );
  const putBack = (job: Job) =>
    job
      .moveToDelayed(Date.now(), token)
      .catch((err) => d.log?.warn({ err }, 'agent claim: could not put a delivery back; the reconciler will'));
  const refused = () => new ApiError('UNAUTHENTICATED', 'the API token was revoked while the claim waited');
  // A fetch still blocked when the poll ends: whatever it brings goes back, then the fetcher closes.
  let pending: Promise<Job | undefined> | null = null;
  try {
    while (!stop.aborted && Date.now() < deadline) {
      pending = fetcher.next(token);
      const job = await Promise.race([pending, stopped]);
      if (job === 'stopped') break;
      pending = null;
      if (!job) continue;
      const payload = jobCatalog.runTrial.payload.safeParse(job.data);
      if (!payload.success) {
        await job.moveToFailed(new Error('invalid payload'), token, false);
        continue;
      }
      // A caller gone (or revoked) before the claim is not given a trial it would never hear of.
      if (stop.aborted) {
        await putBack(job);
        break;
      }
      // The token as Postgres has it now: a revoked one (or one no longer serving this pool) gets nothing.
      const now = await callerById(d.db, caller.tokenId).catch((err) => {
        void putBack(job);
        throw err;
      });
      if (!now || !can.serve(now, agent.pool)) {
        await putBack(job);
        throw now ? new ApiError('FORBIDDEN', `this token may no longer serve pool '${agent.pool}'`) : refused();
      }
      const claimed = await claimTrialForAgent(
        d.db,
        payload.data.trialId,
        { id: agent.id, name: agent.name },
        d.leaseMs,
      );
      if (claimed) {
        await job.moveToCompleted({ claimedBy: agent.id, attempt: claimed.attempt }, token, false);
        return claimed;
      }
      const state = await trialState(d.db, payload.data.trialId);
      if (state?.status === 'running' && state.leaseExpiresAt && !state.sweepCancelled)
        await job.moveToDelayed(state.leaseExpiresAt.getTime() + 1000, token);
      else await job.moveToCompleted({ skipped: true }, token, false);
    }
    if (revoked.aborted) throw refused();
    return null;
  } finally {
    const blocked = pending;
    const close = async () => {
      const job = blocked ? await blocked.catch(() => undefined) : undefined;
      if (job) await putBack(job);
      await fetcher.close().catch(() => {});
    };
    if (blocked) void close();
    else await close();
  }
}
