// A new sweep: validated (what it would make, nothing stored) or submitted (expanded, stored and
// enqueued, at most once per Idempotency-Key).
import { randomUUID } from 'node:crypto';
import { type SweepCreated, type SweepSpec, selectedOnOf } from '@lrsweep/contract';
import { createSweep, Prisma } from '@lrsweep/db';
import type { Delivery } from '@lrsweep/queue';
import { ashaPlanOf, canonicalJson, expandSweep, planForks, planTrials, scheduleKeyOf, sha256 } from '@lrsweep/sweep';
import { ApiError } from '../errors';
import type { SweepContext } from './sweep-context';

/** What a spec would make, or its problems: nothing is stored (the dashboard's live check). */
export function validateSweep({ d }: SweepContext, spec: SweepSpec) {
  const { maxTrials, maxTrialSteps } = d;
  const expanded = expandSweep(spec, { maxTrials, maxTrialSteps });
  if (!expanded.ok) return { valid: false as const, issues: expanded.issues };
  const { plan } = expanded;
  // The forking plan needs the trials' identities, which need a sweep id: any stands in.
  const { summary } = planForks(plan, planTrials(plan, '00000000-0000-0000-0000-000000000000'));
  return {
    valid: true as const,
    trialCount: plan.trialCount,
    configCount: plan.configs.length,
    totalSteps: plan.totalSteps,
    totalUpdates: plan.totalUpdates,
    ...(summary.forks ? { forks: summary } : {}),
    ...(spec.search?.kind === 'asha' ? { asha: ashaPlanOf(spec.search, plan) } : {}),
  };
}

/**
 * Expands, stores and enqueues a validated sweep; an invalid one creates nothing. Answers
 * within seconds whatever Redis does: when the queue cannot take the jobs the sweep is stored
 * with `delivery: "pending"` and the reconciler delivers it.
 */
export async function submitSweep(
  ctx: SweepContext,
  spec: SweepSpec,
  projectId: string,
  idempotencyKey?: string,
): Promise<SweepCreated & { replayed: boolean }> {
  const { d, replay, deliver } = ctx;
  const { db, maxTrials, maxTrialSteps, failureBudget } = d;
  const requestHash = sha256(canonicalJson(spec));
  if (idempotencyKey) {
    const prior = await replay(projectId, idempotencyKey, requestHash);
    if (prior) return { ...prior, replayed: true };
  }
  const expanded = expandSweep(spec, { maxTrials, maxTrialSteps });
  if (!expanded.ok) {
    const message = expanded.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new ApiError('SPEC_INVALID', message, expanded.issues);
  }
  const { plan } = expanded;
  const id = randomUUID();
  // Forked cooldowns where a horizon axis allows them (new sweeps only: extensions run independently).
  const trials = planForks(plan, planTrials(plan, id)).trials.map((t) => ({ ...t, id: randomUUID() }));
  let deliveries: Delivery[];
  try {
    deliveries = await createSweep(db, {
      id,
      projectId,
      configs: plan.configs.map((c) => ({ ...c, scheduleKey: scheduleKeyOf(c.schedule, c.values, c.horizon) })),
      name: spec.name,
      spec,
      objective: spec.objective,
      totalSteps: plan.totalSteps,
      runnerKind: spec.runner.kind,
      pool: spec.runner.pool,
      ...(spec.priority !== undefined ? { priority: spec.priority } : {}),
      ...(spec.maxParallel !== undefined ? { maxParallel: spec.maxParallel } : {}),
      failureBudget,
      trials,
      ...(idempotencyKey ? { idempotency: { key: idempotencyKey, requestHash } } : {}),
    });
  } catch (err) {
    // The same key, sent twice at once: the first one made the sweep.
    if (idempotencyKey && err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
      const prior = await replay(projectId, idempotencyKey, requestHash);
      if (prior) return { ...prior, replayed: true };
    }
    throw err;
  }
  const queued = await deliver(deliveries);
  return {
    id,
    name: spec.name,
    status: 'queued',
    trialCount: trials.length,
    configCount: plan.configs.length,
    totalSteps: plan.totalSteps,
    selectedOn: selectedOnOf(spec),
    delivery: queued ? 'queued' : 'pending',
    replayed: false,
  };
}
