// What every agent use case shares: the fence (is this attempt still the trial's?), the lease
// renewal that answers most reports, the engine's afterTrial for an ended attempt, and the
// schedule's rates as the server computes them. Each use case (agent-registration.ts,
// agent-claim.ts, agent-reports.ts, agent-endings.ts) takes this context.
import { type Caller, can } from '@lrsweep/contract';
import { type Db, getAgent, trialEvaluations } from '@lrsweep/db';
import { type AttemptEndKind, afterTrial, finishTrial, renewAgentLease } from '@lrsweep/engine';
import type { RedisConnection as Redis, TrialQueue } from '@lrsweep/queue';
import type { TrialConfig } from '@lrsweep/sweep';
import type { Logger } from 'pino';
import { ApiError, notFound } from '../errors';
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
export type Owned = Awaited<ReturnType<ReturnType<typeof createFence>['owned']>>;

export type Report = { ok: true; shouldStop: boolean; leaseExpiresAt: string | null; status?: string };

/** The attempt a report comes from: its trial, number and lease token. */
export interface AttemptRef {
  caller: Caller;
  trialId: string;
  attempt: number;
  leaseToken: string | undefined;
}

export type AgentContext = ReturnType<typeof agentContext>;

export function agentContext(d: AgentServiceDeps) {
  const { owned, staleNow } = createFence(d.db);

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

  const stale = (a: AttemptRef) => staleNow(a.caller, a.trialId, a.attempt, a.leaseToken);

  /** The lease renewed after a report (`progress`: it carried training progress). */
  const renew = async (a: AttemptRef, progress: boolean): Promise<Report> => {
    const r = await renewAgentLease(d.db, a.trialId, a.attempt, d.leaseMs, { stallMs: d.stallMs, progress });
    if (r.renewed) return { ok: true, shouldStop: false, leaseExpiresAt: r.leaseExpiresAt.toISOString() };
    if (r.reason === 'stale') return stale(a);
    // Heartbeats without progress for stallMs: the lease is left to lapse, and the trial moves on.
    return { ok: true, shouldStop: true, leaseExpiresAt: null };
  };

  /**
   * The trial's loss diverged at `step`: it ends there. A range test's ramp ends where its loss
   * diverges, and that is its answer (`completed`, as on the built-in workers); rows an earlier
   * attempt wrote past that step go.
   */
  const diverge = async (t: Owned, attempt: number, step: number) => {
    const status = t.config.rangeTest ? 'completed' : 'diverged';
    const summary = t.config.rangeTest ? { divergedAtStep: step, stepsDone: step + 1 } : { divergedAtStep: step };
    if (await finishTrial(d.db, t.id, attempt, status, summary)) await ended(t, status);
    return { ok: true as const, shouldStop: true, leaseExpiresAt: null, status };
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

  /** The trial, when this attempt (and lease token) still holds it; the fence's error otherwise. */
  const fenced = (a: AttemptRef) => owned(a.caller, a.trialId, a.attempt, a.leaseToken);

  return { d, mustAgent, ended, fenced, stale, renew, diverge, ratesOf };
}
