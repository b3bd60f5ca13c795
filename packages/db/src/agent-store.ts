import { randomBytes, randomUUID } from 'node:crypto';
import type { Db } from './create-db';
import type { Prisma } from './generated/prisma/client.ts';
import { heldBy } from './ownership';
import { refreshTrialSummary } from './results-store';
import { type ClaimedTrial, claimTrial } from './trial-store';

export interface NewAgent {
  projectId: string;
  name: string;
  pool: string;
  labels?: Record<string, string>;
  framework?: string;
  device?: string;
  host?: string;
  sdk?: string;
  protocolVersion: number;
}

export async function registerAgent(db: Db, a: NewAgent) {
  return db.worker.create({
    data: {
      id: randomUUID(),
      kind: 'agent',
      projectId: a.projectId,
      name: a.name,
      pool: a.pool,
      labels: (a.labels ?? {}) as Prisma.InputJsonValue,
      framework: a.framework ?? null,
      device: a.device ?? null,
      host: a.host ?? null,
      sdk: a.sdk ?? null,
      protocolVersion: a.protocolVersion,
    },
  });
}

/** An agent of the project, or null. */
export const getAgent = (db: Db, id: string, projectId: string) =>
  db.worker.findFirst({ where: { id, projectId, kind: 'agent' } });

export async function heartbeatAgent(db: Db, id: string, projectId: string): Promise<boolean> {
  const r = await db.worker.updateMany({
    where: { id, projectId, kind: 'agent' },
    data: { lastHeartbeatAt: new Date() },
  });
  return r.count === 1;
}

/** A page of a listing: at most `limit` rows after the row whose id is `after` (ids ascending). */
export interface Page {
  limit: number;
  after?: string;
}

/**
 * A page of the project's agents (of `pools` only, when given: a pool-scoped token's view), in
 * id order, with the trial each holds now; `next` is the id to continue after, or null.
 */
export async function listAgents(db: Db, projectId: string, page: Page, pools?: readonly string[]) {
  const agents = await db.worker.findMany({
    where: {
      projectId,
      kind: 'agent',
      ...(pools ? { pool: { in: [...pools] } } : {}),
      ...(page.after ? { id: { gt: page.after } } : {}),
    },
    orderBy: { id: 'asc' },
    take: page.limit + 1,
  });
  const shown = agents.slice(0, page.limit);
  const running = await db.trial.findMany({
    where: { agentId: { in: shown.map((a) => a.id) }, status: 'running' },
    select: { id: true, agentId: true },
  });
  const current = new Map(running.map((t) => [t.agentId, t.id]));
  return {
    agents: shown.map((a) => ({ ...a, currentTrialId: current.get(a.id) ?? null })),
    next: agents.length > page.limit ? shown.at(-1)!.id : null,
  };
}

/** A new lease token: 192 random bits, url-safe. */
const newLeaseToken = () => randomBytes(24).toString('base64url');

/**
 * Claims a trial for an agent (the same compare-and-set as a built-in worker's), and rolls back
 * what an earlier attempt wrote after its last checkpoint marker: the new attempt resumes at the
 * marker's next step, so the series stays gap-free and duplicate-free. Without a marker it starts
 * over and every row goes.
 */
export async function claimTrialForAgent(
  db: Db,
  trialId: string,
  agent: { id: string; name: string },
  leaseMs: number,
): Promise<(ClaimedTrial & { leaseToken: string }) | null> {
  const claimed = await claimTrial(db, trialId, agent.name, leaseMs, 'external');
  if (!claimed) return null;
  const resumeStep = claimed.checkpointStep ?? 0;
  // The attempt's secret: every write of this attempt must carry it (agent protocol 2).
  const leaseToken = newLeaseToken();
  await db.$transaction([
    db.$executeRaw`UPDATE trials SET agent_id = ${agent.id}::uuid, lease_token = ${leaseToken}, last_progress_at = now() WHERE ${heldBy(trialId, claimed.attempt)}`,
    db.$executeRaw`DELETE FROM update_metrics WHERE trial_id = ${trialId}::uuid AND step >= ${resumeStep}`,
    db.$executeRaw`DELETE FROM evaluations WHERE trial_id = ${trialId}::uuid AND step > ${resumeStep}`,
  ]);
  await refreshTrialSummary(db, trialId);
  return { ...claimed, leaseToken };
}

/**
 * What a report about a trial needs: who owns it (attempt, lease token), its config, how far it
 * has got, and why it ended (its status, error code, whether its sweep was cancelled).
 */
export async function trialForReport(db: Db, trialId: string, projectId: string) {
  const t = await db.trial.findFirst({
    where: { id: trialId, sweep: { projectId } },
    select: {
      id: true,
      sweepId: true,
      status: true,
      attempt: true,
      pool: true,
      config: true,
      totalSteps: true,
      agentId: true,
      leaseToken: true,
      errorCode: true,
      leaseExpiresAt: true,
      lastProgressAt: true,
      identity: true,
      checkpointStep: true,
      sweep: { select: { cancelledAt: true, maxParallel: true } },
      // ASHA: the rungs it has passed, so a report can be checked against the next without another read.
      _count: { select: { rungs: true } },
    },
  });
  if (!t) return null;
  const { sweep, _count, ...rest } = t;
  return {
    ...rest,
    rungsReached: _count.rungs,
    sweepCancelled: sweep.cancelledAt !== null,
    maxParallel: sweep.maxParallel,
  };
}

/** A trial of a deleted sweep, while its tombstone lasts (pool: who may be told so). */
export async function trialTombstone(db: Db, trialId: string, projectId: string): Promise<{ pool: string } | null> {
  return db.trialTombstone.findFirst({ where: { trialId, projectId }, select: { pool: true } });
}

/** Deletes tombstones older than `olderThanMs` (the reconciler's chore). */
export async function pruneTombstones(db: Db, olderThanMs: number): Promise<number> {
  const r = await db.trialTombstone.deleteMany({ where: { deletedAt: { lt: new Date(Date.now() - olderThanMs) } } });
  return r.count;
}

/**
 * Extends an agent's lease, unless its trainer has reported nothing for `stallMs` (it heartbeats
 * but trains nothing): then the lease is left to lapse, and the trial goes to another agent as a
 * dead one's would. `progress` marks a report of progress (updates, an evaluation).
 */
export async function renewAgentLease(
  db: Db,
  trialId: string,
  attempt: number,
  leaseMs: number,
  opts: { stallMs: number; progress: boolean },
): Promise<{ renewed: true; leaseExpiresAt: Date } | { renewed: false; reason: 'stale' | 'stalled' }> {
  const rows = await db.$queryRaw<{ lease_expires_at: Date }[]>`
    UPDATE trials SET lease_expires_at = now() + ${leaseMs} * interval '1 millisecond',
           last_progress_at = CASE WHEN ${opts.progress} THEN now() ELSE last_progress_at END
     WHERE ${heldBy(trialId, attempt)}
       AND (${opts.progress} OR last_progress_at IS NULL OR last_progress_at > now() - ${opts.stallMs} * interval '1 millisecond')
    RETURNING lease_expires_at`;
  if (rows[0]) return { renewed: true, leaseExpiresAt: rows[0].lease_expires_at };
  const t = await db.trial.findUnique({ where: { id: trialId }, select: { attempt: true, status: true } });
  return { renewed: false, reason: t && t.attempt === attempt && t.status === 'running' ? 'stalled' : 'stale' };
}

/** How many update rows the trial has at steps 0 … `upTo` (a marker or completion needs them all). */
export async function countUpdates(db: Db, trialId: string, upTo: number): Promise<number> {
  const [r] = await db.$queryRaw<
    { n: number }[]
  >`SELECT count(*)::int AS n FROM update_metrics WHERE trial_id = ${trialId}::uuid AND step <= ${upTo}`;
  return r?.n ?? 0;
}

/** Records an agent's checkpoint marker covering updates 0 … `step`: the resume point is `step + 1`. */
export async function recordAgentCheckpoint(
  db: Db,
  trialId: string,
  attempt: number,
  step: number,
  uri: string,
): Promise<boolean> {
  const n = await db.$executeRaw`
    UPDATE trials SET checkpoint_path = ${uri}, checkpoint_step = ${step + 1} WHERE ${heldBy(trialId, attempt)}`;
  return n === 1;
}

/** The stored evaluations of a trial, in step order (what a plateau schedule has observed). */
export async function trialEvaluations(db: Db, trialId: string, upTo?: number) {
  return db.evaluation.findMany({
    where: { trialId, ...(upTo !== undefined ? { step: { lte: upTo } } : {}) },
    orderBy: { step: 'asc' },
    select: { step: true, valLoss: true, valAcc: true, trainLoss: true, metrics: true },
  });
}

/** A built-in worker process, as it registers at start (kind "worker": it serves every project). */
export interface BuiltinWorkerInfo {
  id: string;
  name: string;
  pools: string[];
  host: string;
  backend: string;
  device: string;
  /** The device's name, memory and driver (see the worker's device.ts). */
  deviceName?: string | null;
  deviceMemoryMiB?: number | null;
  driver?: string | null;
  slots: number;
  version: string;
  /** The numerics keys (ids) it can train under. */
  numerics?: string[];
}

export async function registerBuiltinWorker(db: Db, w: BuiltinWorkerInfo): Promise<void> {
  await db.worker.create({
    data: {
      id: w.id,
      kind: 'worker',
      projectId: null,
      name: w.name,
      pool: w.pools.join(','),
      host: w.host,
      backend: w.backend,
      device: w.device,
      deviceName: w.deviceName ?? null,
      deviceMemoryMiB: w.deviceMemoryMiB ?? null,
      driver: w.driver ?? null,
      slots: w.slots,
      version: w.version,
      framework: `TF.js ${w.backend}`,
      ...(w.numerics ? { numerics: w.numerics } : {}),
    },
  });
}

/** A built-in worker's heartbeat; false once it is no longer registered (or stopped). */
export async function heartbeatBuiltinWorker(db: Db, id: string): Promise<boolean> {
  const r = await db.worker.updateMany({
    where: { id, kind: 'worker', stoppedAt: null },
    data: { lastHeartbeatAt: new Date() },
  });
  return r.count === 1;
}

export async function stopBuiltinWorker(db: Db, id: string): Promise<void> {
  await db.worker.updateMany({ where: { id, kind: 'worker' }, data: { stoppedAt: new Date() } });
}

/** Deletes registrations that stopped or went silent more than a day ago (the reconciler's chore). */
export async function pruneFleetRegistry(db: Db): Promise<number> {
  const dayAgo = new Date(Date.now() - 24 * 3600 * 1000);
  const r = await db.worker.deleteMany({
    where: { OR: [{ stoppedAt: { lt: dayAgo } }, { lastHeartbeatAt: { lt: dayAgo } }] },
  });
  return r.count;
}

/**
 * The fleet a project sees: every built-in worker (they serve all projects) and the project's
 * agents (an operator's call: every project's), with the trials each runs now. Registrations
 * that stopped or went silent more than a day ago are left out (the reconciler deletes them).
 */
export async function listFleet(db: Db, projectId: string | null, page: Page, pools?: readonly string[]) {
  const dayAgo = new Date(Date.now() - 24 * 3600 * 1000);
  // Registrations stopped or silent for a day are left out here and deleted by the reconciler
  // (pruneFleetRegistry): a read writes nothing.
  const recent = { lastHeartbeatAt: { gte: dayAgo }, OR: [{ stoppedAt: null }, { stoppedAt: { gte: dayAgo } }] };
  // A pool-scoped caller sees the agents of its pools only (built-in workers run no external pool's trials).
  const scope = pools
    ? { kind: 'agent', projectId: projectId ?? undefined, pool: { in: [...pools] } }
    : projectId === null
      ? {}
      : { OR: [{ kind: 'worker' }, { kind: 'agent', projectId }] };
  const rows = await db.worker.findMany({
    where: { AND: [recent, scope, page.after ? { id: { gt: page.after } } : {}] },
    orderBy: { id: 'asc' },
    take: page.limit + 1,
  });
  const workers = rows.slice(0, page.limit);
  const next = rows.length > page.limit ? workers.at(-1)!.id : null;
  const builtin = workers.filter((w) => w.kind === 'worker').map((w) => w.name);
  const agents = workers.filter((w) => w.kind === 'agent').map((w) => w.id);
  const running = await db.$queryRaw<
    { id: string; sweep_id: string; project_id: string; worker_id: string | null; agent_id: string | null }[]
  >`
    SELECT t.id, t.sweep_id, s.project_id, t.worker_id, t.agent_id FROM trials t JOIN sweeps s ON s.id = t.sweep_id
     WHERE t.status = 'running' AND (t.worker_id = ANY(${builtin}::text[]) OR t.agent_id = ANY(${agents}::uuid[]))`;
  return {
    next,
    workers: workers.map((w) => ({
      ...w,
      running: running
        .filter((t) => (w.kind === 'agent' ? t.agent_id === w.id : t.agent_id === null && t.worker_id === w.name))
        .map((t) => ({ trialId: t.id, sweepId: t.sweep_id, projectId: t.project_id })),
    })),
  };
}

/**
 * Records an attempt's optimizer parameter groups, once: the same declaration again is accepted (a
 * retried request), a different one is not. Whether it was recorded ('declared'), or the attempt
 * already has other groups ('conflict').
 */
export async function declareParamGroups(
  db: Db,
  trialId: string,
  attempt: number,
  groups: unknown[],
): Promise<'declared' | 'conflict'> {
  const json = JSON.stringify(groups);
  const n = await db.$executeRaw`
    UPDATE trial_attempts SET param_groups = ${json}::jsonb
     WHERE trial_id = ${trialId}::uuid AND attempt = ${attempt}
       AND (param_groups IS NULL OR param_groups = ${json}::jsonb)`;
  return n > 0 ? 'declared' : 'conflict';
}
