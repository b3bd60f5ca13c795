import { agentProtocol, type Caller, can, type ClaimedTrial, lrMatches, type ParamGroup } from '@lrsweep/contract';
import { countUpdates, type Db, getAgent, heartbeatAgent, registerAgent, trialEvaluations } from '@lrsweep/db';
import {
  type AttemptEndKind,
  afterTrial,
  type claimTrialForAgent,
  failAttempt,
  finishTrial,
  declareParamGroups,
  recordAgentCheckpoint,
  refreshTrialSummary,
  releaseTrial,
  renewAgentLease,
  trialForReport,
  writeEvaluations,
  writeUpdates,
} from '@lrsweep/engine';
import type { TrialQueue } from '@lrsweep/queue';
import type { TrialConfig } from '@lrsweep/sweep';
import type { RedisConnection as Redis } from '@lrsweep/queue';
import type { Logger } from 'pino';
import { ApiError, notFound } from '../errors';
import { pollForTrial } from './agent-claim';
import { createFence } from './agent-fence';
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

/** A trial the caller's attempt holds (the fence's answer). */
type Owned = Awaited<ReturnType<ReturnType<typeof createFence>['owned']>>;

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

  /**
   * An attempt ended: what that makes due for others (held trials of a maxParallel sweep, forks,
   * rungs), the engine's afterTrial, as for a built-in worker's trial; the reconciler does it
   * when this cannot.
   */
  const ended = (t: Owned, kind: AttemptEndKind) =>
    afterTrial(
      { db: d.db, queue: d.queue, ...(d.log ? { log: d.log } : {}) },
      { trialId: t.id, sweepId: t.sweepId, identity: t.identity, maxParallel: t.maxParallel, config: t.config },
      { kind },
    );

  const { owned, staleNow } = createFence(d.db);

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

  const diverge = async (t: Owned, attempt: number, step: number) => {
    if (await finishTrial(d.db, t.id, attempt, 'diverged', { divergedAtStep: step })) await ended(t, 'diverged');
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

    /** The next trial of the agent's pool, or null when none came within `waitMs` (agent-claim.ts). */
    async claim(
      caller: Caller,
      agentId: string,
      waitMs: number,
      gone: AbortSignal,
      revoked: AbortSignal,
    ): Promise<ClaimedTrial | null> {
      const agent = await mustAgent(caller, agentId);
      await heartbeatAgent(d.db, agentId, caller.projectId);
      const claimed = await pollForTrial(d, caller, agent, waitMs, gone, revoked);
      return claimed ? claimView(claimed) : null;
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
          const f = await failAttempt(d.db, trialId, attempt, { code: 'SCHEDULE_MISMATCH', message }, false);
          if (f.outcome === 'failed') await ended(t, 'failed');
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
      if (bad >= 0) return diverge(t, attempt, sorted[bad]!.step);
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
      if (Object.values(metrics).some((v) => v === null)) return diverge(t, attempt, Math.max(0, step - 1));
      return renewed(caller, trialId, attempt, leaseToken, true);
    },

    /** The attempt's optimizer parameter groups, declared once (the same declaration again is fine). */
    async paramGroups(
      caller: Caller,
      trialId: string,
      attempt: number,
      leaseToken: string | undefined,
      groups: ParamGroup[],
    ): Promise<Report> {
      await owned(caller, trialId, attempt, leaseToken);
      if ((await declareParamGroups(d.db, trialId, attempt, groups)) === 'conflict')
        throw new ApiError(
          'PARAM_GROUPS_DECLARED',
          `attempt ${attempt} declared other parameter groups already: they are declared once per attempt`,
        );
      return renewed(caller, trialId, attempt, leaseToken, false);
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
      await ended(t, 'completed');
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
      await ended(t, r.outcome === 'requeued' ? 'retried' : 'failed');
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

/** The mean loss of the updates after the previous evaluation, up to `step` updates. */
async function meanTrainLoss(db: Db, trialId: string, step: number): Promise<number | null> {
  const [r] = await db.$queryRaw<{ mean: number | null }[]>`
    SELECT avg(u.train_loss) AS mean FROM update_metrics u
     WHERE u.trial_id = ${trialId}::uuid AND u.step < ${step}
       AND u.step >= coalesce((SELECT max(e.step) FROM evaluations e WHERE e.trial_id = ${trialId}::uuid AND e.step < ${step}), 0)`;
  return r?.mean ?? null;
}
