// The agent protocol's server side, one use case per file over a shared context
// (agent-context.ts): registration and heartbeats (agent-registration.ts), claims (a long poll on
// the pool's BullMQ queue, then the same compare-and-set as a built-in worker: agent-claim.ts),
// the reports of a claimed trial (agent-reports.ts), an ASHA trial's rungs (agent-rungs.ts), and how its attempt ends (agent-endings.ts),
// each fenced by its attempt. The server checks every reported rate against the schedule it
// computes itself. This file only gives the routes one object with the protocol's calls.
import type { Caller, ParamGroup } from '@lrsweep/contract';
import { claim } from './agent-claim';
import { type AgentServiceDeps, agentContext } from './agent-context';
import { complete, fail, release } from './agent-endings';
import { heartbeat, type Registration, register } from './agent-registration';
import { nextRates, reportCheckpoint, reportEvaluation, reportParamGroups, reportUpdates } from './agent-reports';
import { reportRung, rungCooldown } from './agent-rungs';

export type { AgentServiceDeps, AgentSettings } from './agent-context';

type Token = string | undefined;

export function createAgentService(d: AgentServiceDeps) {
  const ctx = agentContext(d);
  const at = (caller: Caller, trialId: string, attempt: number, leaseToken: Token) => ({
    caller,
    trialId,
    attempt,
    leaseToken,
  });
  return {
    register: (caller: Caller, body: Registration) => register(ctx, caller, body),
    heartbeat: (caller: Caller, agentId: string) => heartbeat(ctx, caller, agentId),
    claim: (caller: Caller, agentId: string, waitMs: number, gone: AbortSignal, revoked: AbortSignal) =>
      claim(ctx, caller, agentId, waitMs, gone, revoked),
    lease: async (caller: Caller, trialId: string, attempt: number, leaseToken: Token) => {
      const a = at(caller, trialId, attempt, leaseToken);
      await ctx.fenced(a);
      return ctx.renew(a, false);
    },
    updates: (
      caller: Caller,
      trialId: string,
      attempt: number,
      leaseToken: Token,
      rows: { step: number; lr: number; loss: number | null }[],
    ) => reportUpdates(ctx, at(caller, trialId, attempt, leaseToken), rows),
    evaluation: (
      caller: Caller,
      trialId: string,
      attempt: number,
      leaseToken: Token,
      step: number,
      metrics: Record<string, number | null>,
    ) => reportEvaluation(ctx, at(caller, trialId, attempt, leaseToken), step, metrics),
    paramGroups: (caller: Caller, trialId: string, attempt: number, leaseToken: Token, groups: ParamGroup[]) =>
      reportParamGroups(ctx, at(caller, trialId, attempt, leaseToken), groups),
    checkpoint: (caller: Caller, trialId: string, attempt: number, leaseToken: Token, step: number, uri: string) =>
      reportCheckpoint(ctx, at(caller, trialId, attempt, leaseToken), step, uri),
    complete: (caller: Caller, trialId: string, attempt: number, leaseToken: Token) =>
      complete(ctx, at(caller, trialId, attempt, leaseToken)),
    fail: (caller: Caller, trialId: string, attempt: number, leaseToken: Token, message: string, retryable: boolean) =>
      fail(ctx, at(caller, trialId, attempt, leaseToken), message, retryable),
    release: (caller: Caller, trialId: string, attempt: number, leaseToken: Token) =>
      release(ctx, at(caller, trialId, attempt, leaseToken)),
    lr: (caller: Caller, trialId: string, attempt: number, leaseToken: Token, from: number, count: number) =>
      nextRates(ctx, at(caller, trialId, attempt, leaseToken), from, count),
    rung: (caller: Caller, trialId: string, attempt: number, leaseToken: Token) =>
      rungCooldown(ctx, at(caller, trialId, attempt, leaseToken)),
    reportRung: (
      caller: Caller,
      trialId: string,
      attempt: number,
      leaseToken: Token,
      body: Parameters<typeof reportRung>[2],
    ) => reportRung(ctx, at(caller, trialId, attempt, leaseToken), body),
  };
}
export type AgentService = ReturnType<typeof createAgentService>;
