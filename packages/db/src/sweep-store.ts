import {
  type Delivery,
  deliveryPriority,
  emptyCounts,
  type SelectedOn,
  selectedOnOf,
  type StatusCounts,
  type SweepNumerics,
  type SweepStatus,
  sweepStatusOf,
  trialRetryPolicy,
} from '@lrsweep/contract';
import type { Db } from './create-db';
import type { Prisma } from './generated/prisma/client.ts';
import { admitHeldTrials } from './delivery-store';
import { nextDelivery, type TrialStatus } from './trial-store';

export interface NewTrial {
  identity: string;
  configId: string;
  ordinal: number;
  config: unknown;
  /** Its own horizon, on a horizon axis (else the sweep's `totalSteps`). */
  totalSteps?: number;
  /** A forked cooldown: stored waiting (no delivery) for its trunk to hand it a checkpoint. */
  fork?: { trunk: string; atStep: number };
}

export interface NewSweep {
  id: string;
  projectId: string;
  name: string;
  spec: unknown;
  objective: unknown;
  totalSteps: number;
  runnerKind: 'builtin' | 'external';
  pool: string;
  /** Higher runs first (none: 0); at most `maxParallel` trials run at once (none: no limit). */
  priority?: number;
  maxParallel?: number;
  /** Failed attempts each trial may spend (default: the contract's retry policy). */
  failureBudget?: number;
  trials: readonly (NewTrial & { id: string })[];
  /** Its configurations (base LR × schedule × grid.config values) and the key of each one's schedule. */
  configs: readonly {
    configId: string;
    baseLr: number;
    schedule: unknown;
    values?: unknown;
    horizon?: number;
    family?: string;
    scheduleKey: string;
  }[];
  /** Records the Idempotency-Key in the same transaction; a repeated key fails it (P2002). */
  idempotency?: { key: string; requestHash: string };
}

type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0] | Db;

/**
 * The queue position a sweep submitted now starts from: that of the pool's next queued trial in
 * the same priority band (0 when none waits), so the newcomer alternates with the sweeps already
 * queued (contract deliveryPriority).
 */
async function queuePositionBase(tx: Tx, pool: string, priority: number): Promise<number> {
  const lo = deliveryPriority(priority, 0);
  const hi = deliveryPriority(priority, Number.MAX_SAFE_INTEGER);
  const [r] = await (tx as Db).$queryRaw<{ min: number | null }[]>`
    SELECT min(queue_priority)::int AS min FROM trials WHERE pool = ${pool} AND status = 'queued' AND queue_priority BETWEEN ${lo} AND ${hi}`;
  return r?.min == null ? 0 : r.min - lo;
}

/**
 * Stores a sweep and all its trials (queued) in one transaction, each with its queue priority,
 * and answers their deliveries, to enqueue. A sweep with `maxParallel` stores them held (no
 * delivery): its deliveries are the first `admitHeldTrials`.
 */
export async function createSweep(db: Db, s: NewSweep): Promise<Delivery[]> {
  const priority = s.priority ?? 0;
  const base = await queuePositionBase(db, s.pool, priority);
  const held = s.maxParallel !== undefined;
  const queuePriority = (t: { ordinal: number }) => deliveryPriority(priority, base + t.ordinal);
  const firstDelivery = (t: { id: string; ordinal: number }) =>
    nextDelivery({
      trialId: t.id,
      sweepId: s.id,
      projectId: s.projectId,
      pool: s.pool,
      runner: s.runnerKind,
      deliveries: 0,
      priority: queuePriority(t),
    });
  await db.$transaction([
    ...(s.idempotency
      ? [
          db.idempotencyKey.create({
            data: {
              projectId: s.projectId,
              key: s.idempotency.key,
              requestHash: s.idempotency.requestHash,
              sweepId: s.id,
            },
          }),
        ]
      : []),
    db.sweep.create({
      data: {
        id: s.id,
        projectId: s.projectId,
        name: s.name,
        spec: s.spec as Prisma.InputJsonValue,
        objective: s.objective as Prisma.InputJsonValue,
        trialCount: s.trials.length,
        runnerKind: s.runnerKind,
        pool: s.pool,
        priority,
        maxParallel: s.maxParallel ?? null,
      },
    }),
    db.trial.createMany({
      data: s.trials.map((t) => ({
        id: t.id,
        sweepId: s.id,
        identity: t.identity,
        configId: t.configId,
        ordinal: t.ordinal,
        config: t.config as Prisma.InputJsonValue,
        totalSteps: t.totalSteps ?? s.totalSteps,
        pool: s.pool,
        failureBudget: s.failureBudget ?? trialRetryPolicy.failureBudget,
        queuePriority: queuePriority(t),
        jobId: held || t.fork ? null : firstDelivery(t).jobId,
        ...(t.fork ? { forkOf: t.fork.trunk, forkStep: t.fork.atStep, forkWaiting: true } : {}),
      })),
    }),
    db.sweepConfig.createMany({
      data: s.configs.map((c) => ({
        sweepId: s.id,
        configId: c.configId,
        baseLr: c.baseLr,
        schedule: c.schedule as Prisma.InputJsonValue,
        ...(c.values ? { values: c.values as Prisma.InputJsonValue } : {}),
        ...(c.horizon !== undefined ? { horizon: c.horizon } : {}),
        ...(c.family !== undefined ? { scheduleFamily: c.family } : {}),
        scheduleKey: c.scheduleKey,
      })),
    }),
  ]);
  if (held) return admitHeldTrials(db, s.id);
  return s.trials.filter((t) => !t.fork).map(firstDelivery);
}

export type { StatusCounts, SweepStatus };

interface SweepTally {
  counts: StatusCounts;
  /** When its last trial ended (null while none has). */
  lastFinishedAt: Date | null;
}

async function countsBySweep(db: Db, ids: string[]): Promise<Map<string, SweepTally>> {
  const out = new Map(ids.map((id): [string, SweepTally] => [id, { counts: emptyCounts(), lastFinishedAt: null }]));
  if (ids.length === 0) return out;
  const rows = await db.trial.groupBy({
    by: ['sweepId', 'status'],
    where: { sweepId: { in: ids } },
    _count: { _all: true },
    _max: { finishedAt: true },
  });
  for (const r of rows) {
    const t = out.get(r.sweepId)!;
    t.counts[r.status] = r._count._all;
    t.counts.total += r._count._all;
    const f = r._max.finishedAt;
    if (f && (!t.lastFinishedAt || f > t.lastFinishedAt)) t.lastFinishedAt = f;
  }
  return out;
}

export interface SweepView {
  id: string;
  name: string;
  status: SweepStatus;
  counts: StatusCounts;
  trialCount: number;
  objective: unknown;
  spec: unknown;
  runnerKind: 'builtin' | 'external';
  pool: string;
  selectedOn: SelectedOn;
  createdAt: Date;
  cancelledAt: Date | null;
  /** When it ended (its last trial ended, or it was cancelled); null while it runs. */
  endedAt: Date | null;
  /** Its numerics key, once its first trial recorded one (built-in sweeps). */
  numerics: SweepNumerics | null;
}

type SweepRow = Awaited<ReturnType<Db['sweep']['findMany']>>[number];

const view = (s: SweepRow, { counts, lastFinishedAt }: SweepTally): SweepView => {
  const status = sweepStatusOf(counts, s.cancelledAt);
  const ended = status !== 'queued' && status !== 'running';
  return {
    id: s.id,
    name: s.name,
    status,
    counts,
    trialCount: s.trialCount,
    objective: s.objective,
    spec: s.spec,
    runnerKind: s.runnerKind === 'external' ? 'external' : 'builtin',
    pool: s.pool,
    selectedOn: selectedOnOf(s.spec as Parameters<typeof selectedOnOf>[0]),
    createdAt: s.createdAt,
    cancelledAt: s.cancelledAt,
    numerics: (s.numerics as SweepNumerics | null) ?? null,
    endedAt: ended
      ? ([lastFinishedAt, s.cancelledAt]
          .filter((d): d is Date => d !== null)
          .sort((a, b) => b.getTime() - a.getTime())[0] ?? s.createdAt)
      : null,
  };
};

/** A sweep of the project, or null (another project's sweep is as good as missing). */
export async function getSweep(db: Db, id: string, projectId: string): Promise<SweepView | null> {
  const s = await db.sweep.findFirst({ where: { id, projectId } });
  if (!s) return null;
  const counts = await countsBySweep(db, [id]);
  return view(s, counts.get(id)!);
}

/** Newest first. */
export async function listSweeps(
  db: Db,
  projectId: string,
  page: { offset: number; limit: number },
): Promise<{ total: number; sweeps: SweepView[] }> {
  const [total, rows] = await Promise.all([
    db.sweep.count({ where: { projectId } }),
    db.sweep.findMany({
      where: { projectId },
      orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      skip: page.offset,
      take: page.limit,
    }),
  ]);
  const counts = await countsBySweep(
    db,
    rows.map((r) => r.id),
  );
  return { total, sweeps: rows.map((r) => view(r, counts.get(r.id)!)) };
}

export async function listTrials(
  db: Db,
  sweepId: string,
  page: { offset: number; limit: number; status?: TrialStatus },
) {
  const where = { sweepId, ...(page.status ? { status: page.status } : {}) };
  const [total, trials] = await Promise.all([
    db.trial.count({ where }),
    db.trial.findMany({ where, orderBy: { ordinal: 'asc' }, skip: page.offset, take: page.limit }),
  ]);
  return { total, trials };
}

/** A trial of the project's sweeps, or null. */
export async function getTrial(db: Db, id: string, projectId: string) {
  return db.trial.findFirst({ where: { id, sweep: { projectId } } });
}

/**
 * A page of a trial's metrics: up to `limit` update rows from step `from` (to `to`), and the
 * evaluations of the same steps. `nextFrom` is where the next page starts (null on the last):
 * pages follow one another without a gap or a repeat (an evaluation at step k, after k updates,
 * is on the page that holds step k).
 */
export async function trialMetrics(db: Db, trialId: string, range: { from?: number; to?: number; limit: number }) {
  const from = range.from ?? 0;
  const step = { gte: from, ...(range.to !== undefined ? { lte: range.to } : {}) };
  const rows = await db.updateMetric.findMany({
    where: { trialId, step },
    orderBy: { step: 'asc' },
    take: range.limit + 1,
    select: { step: true, lr: true, trainLoss: true },
  });
  const more = rows.length > range.limit;
  const updates = more ? rows.slice(0, range.limit) : rows;
  const last = updates.at(-1)?.step;
  const evalStep = more && last !== undefined ? { gte: from, lte: last } : step;
  const evals = await db.evaluation.findMany({
    where: { trialId, step: evalStep },
    orderBy: { step: 'asc' },
    select: { step: true, valLoss: true, valAcc: true, metrics: true },
  });
  return {
    updates,
    evals: evals.map(({ metrics, ...e }) =>
      metrics && typeof metrics === 'object' ? { ...e, metrics: metrics as Record<string, number | null> } : e,
    ),
    nextFrom: more && last !== undefined ? last + 1 : null,
  };
}

/** The sweep first created under an Idempotency-Key within the last `ttlMs`; older keys are dropped. */
export async function findIdempotentSweep(db: Db, projectId: string, key: string, ttlMs: number) {
  const row = await db.idempotencyKey.findUnique({ where: { projectId_key: { projectId, key } } });
  if (!row) return null;
  if (row.createdAt.getTime() < Date.now() - ttlMs) {
    await db.idempotencyKey.deleteMany({ where: { projectId, key, createdAt: row.createdAt } });
    return null;
  }
  return row;
}

/** Why a sweep's trials failed: each reason (code and message) with how many trials it ended, most first. */
export async function failureSummary(
  db: Db,
  sweepId: string,
): Promise<{ code: string; message: string; count: number }[]> {
  const rows = await db.$queryRaw<{ code: string | null; message: string | null; count: number }[]>`
    SELECT error_code AS code, error AS message, count(*)::int AS count
      FROM trials WHERE sweep_id = ${sweepId}::uuid AND status = 'failed'
     GROUP BY error_code, error ORDER BY count(*) DESC, error_code LIMIT 20`;
  return rows.map((r) => ({
    code: r.code ?? 'UNKNOWN',
    message: r.message ?? '(no message recorded)',
    count: r.count,
  }));
}

/** A trial's attempts, first to last (kept by the trials_record_attempt trigger). */
export async function trialAttempts(db: Db, trialId: string) {
  return db.trialAttempt.findMany({ where: { trialId }, orderBy: { attempt: 'asc' } });
}

/** Trials by pool and status, over every project (for metrics: no project names). */
export async function trialCountsByPool(db: Db): Promise<{ pool: string; status: string; n: number }[]> {
  return db.$queryRaw`SELECT pool, status::text AS status, count(*)::int AS n FROM trials GROUP BY pool, status`;
}

/**
 * Each pool's backlog: its queued and running trials (Postgres is the source of truth: right
 * whatever Redis holds, and when fair share holds trials back). The filters narrow it to one
 * pool, one project and one kind of runner (an autoscaler of agents counts external sweeps only).
 */
export async function poolBacklog(
  db: Db,
  f: { pool?: string; projectId?: string; runner?: 'builtin' | 'external' } = {},
): Promise<{ pool: string; queued: number; running: number }[]> {
  // Per sweep: its running trials, and of its queued ones only as many as its maxParallel lets
  // run beside them (held-back trials are demand only once they may start; a forked cooldown
  // only once its trunk has handed it its checkpoint; an ASHA trial at a rung once promoted).
  return db.$queryRaw`
    SELECT pool, sum(queued)::int AS queued, sum(running)::int AS running FROM (
      SELECT t.pool, t.sweep_id, count(*) FILTER (WHERE t.status = 'running') AS running,
             least(count(*) FILTER (WHERE t.status = 'queued' AND NOT t.fork_waiting AND NOT t.rung_waiting),
                   greatest(coalesce(min(s.max_parallel), 2147483647) - count(*) FILTER (WHERE t.status = 'running'), 0)) AS queued
        FROM trials t JOIN sweeps s ON s.id = t.sweep_id
       WHERE t.status IN ('queued', 'running') AND s.cancelled_at IS NULL
         AND (${f.pool ?? null}::text IS NULL OR t.pool = ${f.pool ?? null}::text)
         AND (${f.projectId ?? null}::text IS NULL OR s.project_id = ${f.projectId ?? null}::text)
         AND (${f.runner ?? null}::text IS NULL OR s.runner_kind = ${f.runner ?? null}::text)
       GROUP BY t.pool, t.sweep_id) per_sweep
     GROUP BY pool`;
}

/** The queues that hold live trials now: project, pool and runner of each. */
export async function liveQueues(
  db: Db,
): Promise<{ projectId: string; pool: string; runner: 'builtin' | 'external' }[]> {
  const rows = await db.$queryRaw<{ project_id: string; pool: string; runner: string }[]>`
    SELECT DISTINCT s.project_id, t.pool, s.runner_kind AS runner FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE t.status IN ('queued', 'running')`;
  return rows.map((r) => ({
    projectId: r.project_id,
    pool: r.pool,
    runner: r.runner === 'external' ? 'external' : 'builtin',
  }));
}

/** What `extendSweep` is given: how to grow the sweep, decided on the spec it locked. */
export interface SweepGrowth {
  /** The merged spec, or a reason to refuse (the sweep's state decides it under the lock). */
  spec: unknown;
  configs: readonly {
    configId: string;
    baseLr: number;
    schedule: unknown;
    values?: unknown;
    horizon?: number;
    family?: string;
    scheduleKey: string;
  }[];
  /** Every trial of the merged grid (existing identities are skipped). */
  trials: readonly (NewTrial & { id: string })[];
  totalSteps: number;
}

/**
 * Grows a sweep in one transaction with its row locked (two extends at once cannot both add the
 * same trial): `plan` sees the stored spec and answers the merged one; trials whose identity the
 * sweep has are skipped, new ones get ordinals after the last. Existing trials never change.
 */
export async function extendSweep(
  db: Db,
  sweepId: string,
  projectId: string,
  plan: (current: { spec: unknown; cancelled: boolean; runnerKind: string; pool: string }) => SweepGrowth,
  opts: {
    failureBudget: number;
    idempotency?: { key: string; requestHash: string; answer: (added: number, trialCount: number) => unknown };
  },
): Promise<{
  added: { id: string; queuePriority: number }[];
  /** The added trials' first deliveries, to enqueue (none when the sweep holds them: maxParallel). */
  deliveries: Delivery[];
  held: boolean;
  trialCount: number;
  pool: string;
  runnerKind: 'builtin' | 'external';
} | null> {
  return db.$transaction(
    async (tx) => {
      const [row] = await tx.$queryRaw<
        {
          spec: unknown;
          cancelled_at: Date | null;
          runner_kind: string;
          pool: string;
          priority: number;
          max_parallel: number | null;
        }[]
      >`
        SELECT spec, cancelled_at, runner_kind, pool, priority, max_parallel FROM sweeps WHERE id = ${sweepId}::uuid AND project_id = ${projectId} FOR UPDATE`;
      if (!row) return null;
      const growth = plan({
        spec: row.spec,
        cancelled: row.cancelled_at !== null,
        runnerKind: row.runner_kind,
        pool: row.pool,
      });
      const existing = new Set(
        (await tx.trial.findMany({ where: { sweepId }, select: { identity: true } })).map((t) => t.identity),
      );
      const [{ max } = { max: -1 }] = await tx.$queryRaw<
        { max: number }[]
      >`SELECT coalesce(max(ordinal), -1)::int AS max FROM trials WHERE sweep_id = ${sweepId}::uuid`;
      const fresh = growth.trials.filter((t) => !existing.has(t.identity));
      // New trials take their turns from the pool's next position, like a sweep submitted now.
      const base = fresh.length ? await queuePositionBase(tx, row.pool, row.priority) : 0;
      const added = fresh.map((t, i) => ({
        ...t,
        ordinal: max + 1 + i,
        queuePriority: deliveryPriority(row.priority, base + i),
      }));
      const firstOf = (t: { id: string; queuePriority: number }) =>
        nextDelivery({
          trialId: t.id,
          sweepId,
          projectId,
          pool: row.pool,
          runner: row.runner_kind === 'external' ? 'external' : 'builtin',
          deliveries: 0,
          priority: t.queuePriority,
        });
      if (added.length) {
        await tx.trial.createMany({
          data: added.map((t) => ({
            id: t.id,
            sweepId,
            identity: t.identity,
            configId: t.configId,
            ordinal: t.ordinal,
            config: t.config as Prisma.InputJsonValue,
            totalSteps: t.totalSteps ?? growth.totalSteps,
            pool: row.pool,
            failureBudget: opts.failureBudget,
            queuePriority: t.queuePriority,
            jobId: row.max_parallel === null ? firstOf(t).jobId : null,
          })),
        });
        await tx.sweepConfig.createMany({
          data: growth.configs.map((c) => ({
            sweepId,
            configId: c.configId,
            baseLr: c.baseLr,
            schedule: c.schedule as Prisma.InputJsonValue,
            ...(c.values ? { values: c.values as Prisma.InputJsonValue } : {}),
            ...(c.horizon !== undefined ? { horizon: c.horizon } : {}),
            ...(c.family !== undefined ? { scheduleFamily: c.family } : {}),
            scheduleKey: c.scheduleKey,
          })),
          skipDuplicates: true,
        });
      }
      const trialCount = existing.size + added.length;
      const runnerKind = row.runner_kind === 'external' ? ('external' as const) : ('builtin' as const);
      await tx.sweep.update({
        where: { id: sweepId },
        data: { spec: growth.spec as Prisma.InputJsonValue, trialCount },
      });
      if (opts.idempotency) {
        const { key, requestHash, answer } = opts.idempotency;
        await tx.idempotencyKey.create({
          data: {
            projectId,
            key,
            requestHash,
            sweepId,
            answer: answer(added.length, trialCount) as Prisma.InputJsonValue,
          },
        });
      }
      return {
        added: added.map((t) => ({ id: t.id, queuePriority: t.queuePriority })),
        deliveries: row.max_parallel === null ? added.map(firstOf) : [],
        held: row.max_parallel !== null,
        trialCount,
        pool: row.pool,
        runnerKind,
      };
    },
    { timeout: 120_000 },
  );
}
