import { randomUUID, timingSafeEqual } from 'node:crypto';
import {
  agentProtocol,
  type Caller,
  can,
  type ClaimedTrial,
  jobCatalog,
  lrMatches,
  poolQueueName,
  type StaleReason,
} from '@lrsweep/contract';
import {
  admitHeldTrials,
  callerById,
  claimTrialForAgent,
  countUpdates,
  type Db,
  failAttempt,
  finishTrial,
  getAgent,
  heartbeatAgent,
  recordAgentCheckpoint,
  refreshTrialSummary,
  registerAgent,
  releaseTrial,
  renewAgentLease,
  trialEvaluations,
  trialForReport,
  trialState,
  trialTombstone,
  writeEvaluations,
  writeUpdates,
} from '@lrsweep/db';
import { createTrialFetcher, enqueueDue, type Job, type TrialQueue } from '@lrsweep/queue';
import type { TrialConfig } from '@lrsweep/sweep';
import type { RedisConnection as Redis } from '@lrsweep/queue';
import type { Logger } from 'pino';
import { ApiError, notFound, staleAttempt } from '../errors';
import { replayedSchedule } from './trial-schedule';

export interface AgentSettings {
  /** A claimed trial's lease. */
  leaseMs: number;
  /** An agent whose trainer reports nothing this long loses its trial. */
  stallMs: number;
  heartbeatMs: number;
}

export interface AgentServiceDeps extends AgentSettings {
  db: Db;
  queue: TrialQueue;
  /** A connection that may block (BullMQ's manual fetching duplicates it for each long poll). */
  blockingRedis: () => Redis;
  prefix: string;
  log?: Logger;
}

type Report = { ok: true; shouldStop: boolean; leaseExpiresAt: string | null; status?: string };

/**
 * The agent protocol's server side: registration and heartbeats, claims (a long poll on the
 * pool's BullMQ queue, then the same compare-and-set as a built-in worker), and the reports of a
 * claimed trial, each fenced by its attempt. The server checks every reported rate against the
 * schedule it computes itself.
 */
export function createAgentService(d: AgentServiceDeps) {
  const mustAgent = async (caller: Caller, agentId: string) => {
    const a = await getAgent(d.db, agentId, caller.projectId);
    if (!a) throw notFound('agent', agentId);
    if (!can.serve(caller, a.pool)) throw new ApiError('FORBIDDEN', `this token may not serve pool '${a.pool}'`);
    return a;
  };

  /** A trial ended: held trials of its sweep (maxParallel) may start; the reconciler does it when this cannot. */
  const admitNext = (sweepId: string) =>
    enqueueDue(
      d.queue,
      async () => ({ deliveries: await admitHeldTrials(d.db, sweepId) }),
      (err) => d.log?.warn({ err, sweepId }, 'could not start held trials; the reconciler will'),
    );

  /**
   * A running trial of the caller's project and pools, held by `attempt` with its lease token:
   * else 404 (no such trial), 403 (not the caller's pool), 409 LEASE_MISMATCH (not the holder:
   * nothing is written) or 409 STALE_ATTEMPT with the reason the holder must stop. A deleted
   * sweep's trial answers STALE_ATTEMPT `deleted` while its tombstone lasts, never 404.
   */
  const owned = async (caller: Caller, trialId: string, attempt: number, leaseToken: string | undefined) => {
    const t = await trialForReport(d.db, trialId, caller.projectId);
    if (!t) {
      const tomb = await trialTombstone(d.db, trialId, caller.projectId);
      if (tomb && can.serve(caller, tomb.pool))
        throw staleAttempt(
          'deleted',
          `the sweep of trial ${trialId} was deleted: stop this trial without completing it`,
        );
      throw notFound('trial', trialId);
    }
    if (!can.serve(caller, t.pool)) throw new ApiError('FORBIDDEN', `this token may not serve pool '${t.pool}'`);
    // An older attempt's token is gone with it: it is told to stop, and can write nothing.
    if (attempt < t.attempt)
      throw stale(t.status === 'cancelled' || t.sweepCancelled ? 'cancelled' : 'superseded', attempt, t);
    if (attempt !== t.attempt || !sameSecret(leaseToken, t.leaseToken)) {
      throw new ApiError(
        'LEASE_MISMATCH',
        `the write does not carry attempt ${attempt}'s lease token (the leaseToken its claim returned): nothing was written`,
      );
    }
    if (t.status !== 'running') throw stale(reasonOf(t), attempt, t);
    return { ...t, config: t.config as unknown as TrialConfig };
  };

  /** After a write the attempt's SQL fence refused: the trial moved on in between; why. */
  const staleNow = async (
    caller: Caller,
    trialId: string,
    attempt: number,
    leaseToken: string | undefined,
  ): Promise<never> => {
    await owned(caller, trialId, attempt, leaseToken);
    throw staleAttempt('lease_lost', `attempt ${attempt} no longer holds the trial: stop without completing`);
  };

  const renewed = async (
    caller: Caller,
    trialId: string,
    attempt: number,
    leaseToken: string | undefined,
    progress: boolean,
  ): Promise<Report> => {
    const r = await renewAgentLease(d.db, trialId, attempt, d.leaseMs, { stallMs: d.stallMs, progress });
    if (r.renewed) return { ok: true, shouldStop: false, leaseExpiresAt: r.leaseExpiresAt.toISOString() };
    if (r.reason === 'stale') return staleNow(caller, trialId, attempt, leaseToken);
    // Heartbeats without progress for stallMs: the lease is left to lapse, and the trial moves on.
    return { ok: true, shouldStop: true, leaseExpiresAt: null };
  };

  const diverge = async (trialId: string, attempt: number, step: number) => {
    await finishTrial(d.db, trialId, attempt, 'diverged', { divergedAtStep: step });
    return { ok: true as const, shouldStop: true, leaseExpiresAt: null, status: 'diverged' };
  };

  /** The schedule's rates for `count` updates from `from`, given the evaluations stored so far. */
  const ratesOf = async (trialId: string, cfg: TrialConfig, totalSteps: number, from: number, count: number) => {
    const to = Math.min(totalSteps, from + count);
    const schedule = replayedSchedule(
      cfg.schedule,
      cfg.baseLr,
      totalSteps,
      await trialEvaluations(d.db, trialId),
      cfg.training.stepsPerEpoch,
    );
    const lr: number[] = [];
    for (let s = from; s < to; s++) lr.push(schedule.lrAt(s));
    return { from, lr };
  };

  /** The claimed trial as the agent needs it, with its first chunk of rates. */
  const claimView = async (c: NonNullable<Awaited<ReturnType<typeof claimTrialForAgent>>>): Promise<ClaimedTrial> => {
    const cfg = c.config as unknown as TrialConfig;
    const resumeStep = c.checkpointStep ?? 0;
    const runnerConfig = cfg.runner?.kind === 'external' ? cfg.runner.config : {};
    return {
      id: c.trialId,
      sweepId: c.sweepId,
      attempt: c.attempt,
      leaseMs: d.leaseMs,
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
      lr: await ratesOf(c.trialId, cfg, c.totalSteps, Math.floor(resumeStep / 1000) * 1000, 1000),
    };
  };

  return {
    async register(
      caller: Caller,
      body: {
        name: string;
        pool: string;
        protocolVersion: number;
        labels?: Record<string, string>;
        framework?: string;
        device?: string;
        host?: string;
        sdk?: string;
      },
    ) {
      if (!(agentProtocol.supported as readonly number[]).includes(body.protocolVersion)) {
        throw new ApiError(
          'PROTOCOL_INCOMPATIBLE',
          `this server speaks agent protocol ${agentProtocol.supported.join(', ')}, not ${body.protocolVersion}: upgrade the agent's SDK to ${agentProtocol.sdks} (docs/agents.md, "Migrating from protocol 1")`,
        );
      }
      if (!can.serve(caller, body.pool))
        throw new ApiError('FORBIDDEN', `this token may not serve pool '${body.pool}'`);
      const a = await registerAgent(d.db, { ...body, projectId: caller.projectId });
      return { agentId: a.id, protocolVersion: agentProtocol.version, heartbeatMs: d.heartbeatMs, leaseMs: d.leaseMs };
    },

    async heartbeat(caller: Caller, agentId: string) {
      await mustAgent(caller, agentId);
      await heartbeatAgent(d.db, agentId, caller.projectId);
      return { ok: true as const };
    },

    /**
     * The next trial of the agent's pool, waiting up to `waitMs` for one (a long poll on a Redis
     * connection of its own). A delivery whose trial is not claimable is dropped (or, while
     * another attempt holds its lease, put back until the lease could lapse), as a worker would.
     * Right before a trial is handed out the token is checked again in Postgres (not the cache);
     * `revoked` (the token was revoked meanwhile) ends the poll at once with 401. Either way a
     * delivery fetched but not handed out goes back to the queue, no attempt spent.
     */
    async claim(
      caller: Caller,
      agentId: string,
      waitMs: number,
      gone: AbortSignal,
      revoked: AbortSignal,
    ): Promise<ClaimedTrial | null> {
      const agent = await mustAgent(caller, agentId);
      await heartbeatAgent(d.db, agentId, caller.projectId);
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
            return await claimView(claimed);
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
    },

    async lease(caller: Caller, trialId: string, attempt: number, leaseToken: string | undefined) {
      await owned(caller, trialId, attempt, leaseToken);
      return renewed(caller, trialId, attempt, leaseToken, false);
    },

    /** Update rows: checked against the schedule, stored (fenced by attempt), the lease renewed. */
    async updates(
      caller: Caller,
      trialId: string,
      attempt: number,
      leaseToken: string | undefined,
      rows: { step: number; lr: number; loss: number | null }[],
    ): Promise<Report> {
      const t = await owned(caller, trialId, attempt, leaseToken);
      const sorted = [...rows].sort((a, b) => a.step - b.step);
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
      const schedule = replayedSchedule(
        t.config.schedule,
        t.config.baseLr,
        t.totalSteps,
        await trialEvaluations(d.db, trialId),
        t.config.training.stepsPerEpoch,
      );
      for (const r of sorted) {
        const want = schedule.lrAt(r.step);
        if (!lrMatches(r.lr, want)) {
          const message = `update ${r.step} applied lr ${r.lr}, but the schedule gives ${want}: the trainer does not follow the trial's schedule`;
          await failAttempt(d.db, trialId, attempt, { code: 'SCHEDULE_MISMATCH', message }, false);
          throw new ApiError('SCHEDULE_MISMATCH', message);
        }
      }
      const bad = sorted.findIndex((r) => r.loss === null);
      const kept = bad >= 0 ? sorted.slice(0, bad + 1) : sorted;
      if (
        !(await writeUpdates(
          d.db,
          trialId,
          attempt,
          kept.map((r) => ({ step: r.step, lr: r.lr, trainLoss: r.loss })),
        ))
      )
        return staleNow(caller, trialId, attempt, leaseToken);
      // NaN or ±Infinity (sent as null): the trial diverged at that update.
      if (bad >= 0) return diverge(trialId, attempt, sorted[bad]!.step);
      return renewed(caller, trialId, attempt, leaseToken, true);
    },

    /** An evaluation after `step` updates: val_*, train_*, and test_* at the last step only. */
    async evaluation(
      caller: Caller,
      trialId: string,
      attempt: number,
      leaseToken: string | undefined,
      step: number,
      metrics: Record<string, number | null>,
    ): Promise<Report> {
      const t = await owned(caller, trialId, attempt, leaseToken);
      if (step > t.totalSteps)
        throw new ApiError(
          'SPEC_INVALID',
          `an evaluation after ${step} updates is past the horizon (${t.totalSteps})`,
          [{ path: 'step', message: 'past the horizon' }],
        );
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
      const meanLoss = trainLoss === undefined ? await meanTrainLoss(d.db, trialId, step) : trainLoss;
      const ok = await writeEvaluations(d.db, trialId, attempt, [
        { step, valLoss: valLoss ?? null, valAcc: valAcc ?? null, trainLoss: meanLoss, metrics: rest },
      ]);
      if (!ok) return staleNow(caller, trialId, attempt, leaseToken);
      await refreshTrialSummary(d.db, trialId, attempt);
      // A non-finite metric (sent as null): the trial diverged at the update before this evaluation.
      if (Object.values(metrics).some((v) => v === null)) return diverge(trialId, attempt, Math.max(0, step - 1));
      return renewed(caller, trialId, attempt, leaseToken, true);
    },

    /** A checkpoint marker covering updates 0 … step: refused while any of those rows is missing. */
    async checkpoint(
      caller: Caller,
      trialId: string,
      attempt: number,
      leaseToken: string | undefined,
      step: number,
      uri: string,
    ): Promise<Report> {
      const t = await owned(caller, trialId, attempt, leaseToken);
      if (step >= t.totalSteps)
        throw new ApiError('SPEC_INVALID', `a marker after update ${step} is past the horizon`, [
          { path: 'step', message: 'past the horizon' },
        ]);
      const have = await countUpdates(d.db, trialId, step);
      if (have !== step + 1)
        throw new ApiError(
          'CHECKPOINT_INCOMPLETE',
          `the marker covers updates 0 … ${step}, but ${step + 1 - have} of their rows have not been sent`,
        );
      if (!(await recordAgentCheckpoint(d.db, trialId, attempt, step, uri)))
        return staleNow(caller, trialId, attempt, leaseToken);
      return renewed(caller, trialId, attempt, leaseToken, true);
    },

    /** Completes the trial; a repeated completion by the attempt that completed it answers the same (a lost answer, retried). */
    async complete(caller: Caller, trialId: string, attempt: number, leaseToken: string | undefined) {
      const t = await owned(caller, trialId, attempt, leaseToken).catch(async (err: unknown) => {
        if (err instanceof ApiError && err.code === 'STALE_ATTEMPT' && err.reason === 'ended') {
          const again = await trialForReport(d.db, trialId, caller.projectId);
          if (again?.status === 'completed' && again.attempt === attempt) return null;
        }
        throw err;
      });
      if (!t) return { ok: true as const, status: 'completed' };
      const have = await countUpdates(d.db, trialId, t.totalSteps - 1);
      if (have !== t.totalSteps)
        throw new ApiError(
          'TRIAL_NOT_DONE',
          `the trial has ${have} of its ${t.totalSteps} updates; send them all before completing`,
        );
      if (!(await finishTrial(d.db, trialId, attempt, 'completed', { stepsDone: t.totalSteps })))
        return staleNow(caller, trialId, attempt, leaseToken);
      await admitNext(t.sweepId);
      return { ok: true as const, status: 'completed' };
    },

    async fail(
      caller: Caller,
      trialId: string,
      attempt: number,
      leaseToken: string | undefined,
      message: string,
      retryable: boolean,
    ) {
      const t = await owned(caller, trialId, attempt, leaseToken);
      const r = await failAttempt(
        d.db,
        trialId,
        attempt,
        { code: retryable ? 'TRAINER_RETRYABLE' : 'TRAINER_FAILED', message },
        retryable,
      );
      if (r.outcome === 'superseded') return staleNow(caller, trialId, attempt, leaseToken);
      if (r.outcome === 'requeued')
        await d.queue
          .enqueueTrials([r.delivery])
          .catch((err) => d.log?.warn({ err }, 'could not enqueue; the reconciler will'));
      else await admitNext(t.sweepId);
      return { ok: true as const, status: r.outcome === 'requeued' ? 'queued' : 'failed' };
    },

    /** Gives the trial back (the agent is stopping): another agent resumes it; no budget spent. */
    async release(caller: Caller, trialId: string, attempt: number, leaseToken: string | undefined) {
      await owned(caller, trialId, attempt, leaseToken);
      const delivery = await releaseTrial(d.db, trialId, attempt);
      if (!delivery) return staleNow(caller, trialId, attempt, leaseToken);
      await d.queue
        .enqueueTrials([delivery])
        .catch((err) => d.log?.warn({ err }, 'could not enqueue; the reconciler will'));
      return { ok: true as const, status: 'queued' };
    },

    /** The schedule's rates for `count` updates from `from`, given the evaluations reported so far. */
    async lr(
      caller: Caller,
      trialId: string,
      attempt: number,
      leaseToken: string | undefined,
      from: number,
      count: number,
    ) {
      const t = await owned(caller, trialId, attempt, leaseToken);
      return ratesOf(trialId, t.config, t.totalSteps, from, count);
    },
  };
}
export type AgentService = ReturnType<typeof createAgentService>;

/** Whether a presented lease token is the attempt's (compared in constant time). */
function sameSecret(given: string | undefined, held: string | null): boolean {
  if (!given || !held) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(held);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Why the holder of a trial that is no longer running must stop. */
function reasonOf(t: { status: string; sweepCancelled: boolean; errorCode: string | null }): StaleReason {
  if (t.status === 'cancelled' || t.sweepCancelled) return 'cancelled';
  // Back in the queue (its lease lapsed, or it was released), or failed once the lapse spent its budget.
  if (t.status === 'queued' || (t.status === 'failed' && t.errorCode === 'LEASE_LOST')) return 'lease_lost';
  return 'ended';
}

const stopWhy: Record<StaleReason, string> = {
  cancelled: 'the sweep was cancelled',
  deleted: 'the sweep was deleted',
  superseded: 'a newer attempt holds the trial',
  lease_lost: "the attempt's lease lapsed (the trial went to another agent, or will)",
  ended: 'the trial has ended',
};
const stale = (reason: StaleReason, attempt: number, t: { attempt: number; status: string }) =>
  staleAttempt(
    reason,
    `attempt ${attempt} may no longer write: ${stopWhy[reason]} (attempt ${t.attempt}, ${t.status}); stop this trial without completing it`,
  );

/** The mean loss of the updates after the previous evaluation, up to `step` updates. */
async function meanTrainLoss(db: Db, trialId: string, step: number): Promise<number | null> {
  const [r] = await db.$queryRaw<{ mean: number | null }[]>`
    SELECT avg(u.train_loss) AS mean FROM update_metrics u
     WHERE u.trial_id = ${trialId}::uuid AND u.step < ${step}
       AND u.step >= coalesce((SELECT max(e.step) FROM evaluations e WHERE e.trial_id = ${trialId}::uuid AND e.step < ${step}), 0)`;
  return r?.mean ?? null;
}
