/**
 * The agent protocol (docs/agents.md): external trainers in any framework register as agents of
 * a pool, claim its trials, and report under the same guarantees as built-in workers.
 */
import { scheduleSchema } from '@lrsweep/schedules';
import { z } from 'zod';
import { poolNameSchema } from './jobs';
import { metricNameSchema } from './metrics';

/**
 * Protocol versions this server speaks; an SDK that speaks another is refused (426), naming the
 * SDK releases that speak this one. Version 2: a claim hands out a lease token that every write
 * of the attempt carries (409 LEASE_MISMATCH without it); every stop is 409 STALE_ATTEMPT with a
 * reason.
 */
export const agentProtocol = {
  version: 2,
  supported: [2],
  sdks: 'lrsweep-python ≥ 0.2.0 or @lrsweep/agent ≥ 0.2.0',
} as const;

/**
 * What one request may carry: the longest claim long poll, the most rows one update batch may
 * carry (the updates route's body limit fits that many worst-case rows), the most rates one
 * `lr` call returns, and an agent's labels (how many, and their keys' and values' characters in
 * all).
 */
export const agentLimits = {
  maxClaimWaitMs: 20_000,
  maxBatchRows: 10_000,
  maxLrChunk: 10_000,
  maxLabels: 32,
  maxLabelChars: 4_096,
  /** One update row at its longest in compact JSON (a 7-digit step, 17-digit floats with exponents), with its comma. */
  updateRowBytes: 100,
} as const;
/**
 * A registration's body limit (bytes): the labels at their most (32, 4 096 characters, even all
 * escaped as \uXXXX) and the other fields at their longest fit under it, so a larger body is
 * refused (413, naming the labels' limits) as it arrives, before it is parsed.
 */
export const registerBodyLimit = 32_768;
/** The updates route's body limit (bytes): `maxBatchRows` rows at their longest, and the envelope. */
export const updatesBodyLimit = agentLimits.maxBatchRows * agentLimits.updateRowBytes + 16_384;

/**
 * How often agents may call, per window (`AGENT_RATE_WINDOW_MS`, a minute), whatever the token's
 * role. Each bucket is its own, so bulk reports can never starve the calls that keep a trial:
 * - registrations per token;
 * - claims and heartbeats per (token, agent);
 * - reports (updates, evaluations, checkpoint markers, rate chunks) per (token, trial the agent
 *   holds), under a ceiling per token (1 000 agents reporting every 2 s fit under it);
 * - control (lease renewals, complete, fail, release) per (token, trial), under a ceiling of its own.
 * 429 answers carry Retry-After.
 */
export const agentRateDefaults = {
  windowMs: 60_000,
  registrationsPerToken: 60,
  claimsPerAgent: 300,
  reportsPerTrial: 300,
  reportsPerToken: 120_000,
  controlPerTrial: 120,
  controlPerToken: 120_000,
} as const;
export type AgentRateLimits = { -readonly [K in keyof typeof agentRateDefaults]: number };

/** GET /v1/agents and GET /v1/workers: at most this many a page (a cursor gives the next). */
export const fleetPageLimit = 100;

/** Why an attempt may no longer write (409 STALE_ATTEMPT's `reason`): the agent stops that trial and claims the next. */
export const staleReasons = ['cancelled', 'deleted', 'superseded', 'lease_lost', 'ended'] as const;
export type StaleReason = (typeof staleReasons)[number];

/** |lr − want| ≤ relative·|want| + absolute: what "the schedule's rate" means for a reported `lr`. */
export const lrTolerance = { relative: 1e-9, absolute: 1e-15 } as const;
export const lrMatches = (lr: number, want: number) =>
  Math.abs(lr - want) <= lrTolerance.relative * Math.abs(want) + lrTolerance.absolute;

const shortText = z.string().min(1).max(200);

export const registerAgentBody = z.strictObject({
  name: shortText.regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/, 'letters, digits and . _ : @ -'),
  pool: poolNameSchema,
  labels: z
    .record(z.string().min(1).max(64), z.string().max(200))
    .refine((l) => Object.keys(l).length <= agentLimits.maxLabels, `at most ${agentLimits.maxLabels} labels`)
    .refine(
      (l) => Object.entries(l).reduce((n, [k, v]) => n + k.length + v.length, 0) <= agentLimits.maxLabelChars,
      `at most ${agentLimits.maxLabelChars} characters of labels in all (keys and values)`,
    )
    .optional(),
  framework: z.string().max(100).optional(),
  device: z.string().max(200).optional(),
  host: z.string().max(200).optional(),
  sdk: z.string().max(100).optional(),
  protocolVersion: z.number().int().min(0),
});

export const agentRegistered = z.object({
  agentId: z.uuid(),
  protocolVersion: z.number().int(),
  /** Heartbeat at least this often. */
  heartbeatMs: z.number().int(),
  /** A claimed trial's lease: renew it (or post updates) well within it. */
  leaseMs: z.number().int(),
});

export const claimBody = z.strictObject({
  waitMs: z.number().int().min(0).max(agentLimits.maxClaimWaitMs).default(agentLimits.maxClaimWaitMs),
});

/** A claimed trial, as an agent receives it. */
export const claimedTrialSchema = z.object({
  id: z.uuid(),
  sweepId: z.uuid(),
  attempt: z.number().int(),
  leaseMs: z.number().int(),
  seed: z.number().int(),
  baseLr: z.number(),
  schedule: scheduleSchema,
  totalSteps: z.number().int(),
  evalEvery: z.number().int(),
  stepsPerEpoch: z.number().int().nullable(),
  /** The attempt's secret: every write of this attempt carries it (409 LEASE_MISMATCH without it). */
  leaseToken: z.string(),
  /** runner.config merged with this trial's grid.config values. */
  config: z.record(z.string(), z.unknown()),
  /** 0 on a first attempt, else the step after the last checkpoint marker, whose uri this is. */
  resumeStep: z.number().int(),
  checkpointUri: z.string().nullable(),
  /**
   * Updates after which the trainer must report a checkpoint marker (`POST …/checkpoints` with
   * that step) and keep its file until the sweep ends: shorter horizons fork from it (a trunk of a
   * horizon axis). Empty for most trials.
   */
  mustCheckpointAt: z.array(z.number().int()).default([]),
  /**
   * An ASHA trial's next rung (null for other trials, and past the last rung): after `step`
   * updates the trainer reports the marker after update `step − 1` (it is in `mustCheckpointAt`),
   * trains the rung's cooldown side branch (`GET …/rung`: `cooldownSteps` rates, kept out of the
   * main series), evaluates, and reports it (`POST …/rung`). The answer stops the attempt: the
   * trial waits at the rung (`paused`) until its configuration is promoted or `pruned`.
   */
  rung: z
    .object({
      /** The rung's index: rungs the trial has been judged at before. */
      index: z.number().int(),
      step: z.number().int(),
      /** The validation metric the rung compares. */
      metric: z.string(),
      /** Updates of the cooldown side branch (0: judged on the metric as it stands). */
      cooldownSteps: z.number().int(),
    })
    .nullable()
    .default(null),
  /** The first chunk of rates (updates `from` … `from + 999`, `from` = resumeStep rounded down to 1 000), to start at once. */
  lr: z.object({ from: z.number().int(), lr: z.array(z.number()) }),
});
export const claimAnswer = z.object({ trial: claimedTrialSchema.nullable() });

/**
 * What fences every write: the attempt, and its lease token from the claim. The token is not
 * required by the schema: a write without it (or with another) answers 409 LEASE_MISMATCH.
 */
const attemptField = { attempt: z.number().int().positive(), leaseToken: z.string().max(200).optional() };
const finite = z.number().refine(Number.isFinite, 'a finite number (send null for NaN or ±Infinity)');

export const updatesBody = z.strictObject({
  ...attemptField,
  updates: z
    .array(z.strictObject({ step: z.number().int().min(0), lr: finite, loss: finite.nullable() }))
    .min(1)
    .max(agentLimits.maxBatchRows, `at most ${agentLimits.maxBatchRows} rows a batch`),
});

export const evalBody = z.strictObject({
  ...attemptField,
  /** Updates done when the evaluation ran (1 … totalSteps). */
  step: z.number().int().min(1),
  metrics: z
    .record(metricNameSchema, finite.nullable())
    .refine((m) => Object.keys(m).length > 0, 'at least one metric'),
});

export const checkpointBody = z.strictObject({
  ...attemptField,
  /** The marker covers updates 0 … step. */
  step: z.number().int().min(0),
  uri: z.string().min(1).max(2000),
});

export const attemptBody = z.strictObject(attemptField);

/** The cooldown side branch of an ASHA trial's rung: its rates, one per update (`GET …/rung`). */
export const rungQuery = z.strictObject({
  attempt: z.coerce.number().int().positive(),
  leaseToken: z.string().max(200).optional(),
});
export const rungAnswer = z.object({
  index: z.number().int(),
  step: z.number().int(),
  metric: z.string(),
  /** The side branch's rates: update `i` of `c` at the schedule's rate at the rung × shape(i / c). */
  lr: z.array(z.number()),
});

/** An ASHA trial's rung, judged (`POST …/rung`): the side branch's updates, then its evaluation. */
export const rungBody = z.strictObject({
  ...attemptField,
  /** The rung's index, as the claim (or `GET …/rung`) gave it. */
  index: z.number().int().min(0),
  /** One row per side-branch update, in order: the rate applied (checked) and the loss (null: NaN or ±Infinity). */
  cooldown: z
    .array(z.strictObject({ lr: finite, loss: finite.nullable() }))
    .max(agentLimits.maxBatchRows, `at most ${agentLimits.maxBatchRows} rows`),
  /** The evaluation after the side branch: the rung's metric at least (null: NaN or ±Infinity). */
  metrics: z
    .record(metricNameSchema, finite.nullable())
    .refine((m) => Object.keys(m).length > 0, 'at least one metric'),
});

/**
 * An optimizer's parameter groups (a backbone at 0.1× the rate, norms without weight decay …):
 * group 0 carries the rate lrsweep checks, so its multiplier is 1; the others' are relative to it.
 */
export const paramGroupSchema = z.strictObject({
  name: z.string().min(1).max(64),
  lrMultiplier: z.number().positive().max(1e4),
  weightDecay: z.number().min(0).max(10).optional(),
});
export type ParamGroup = z.output<typeof paramGroupSchema>;

export const paramGroupsBody = z
  .strictObject({ ...attemptField, groups: z.array(paramGroupSchema).min(1).max(64) })
  .superRefine((b, ctx) => {
    if (b.groups[0] && b.groups[0].lrMultiplier !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['groups', 0, 'lrMultiplier'],
        message: "group 0 carries the schedule's rate (the one lrsweep checks): its multiplier is 1",
      });
    const seen = new Set<string>();
    b.groups.forEach((g, i) => {
      if (seen.has(g.name)) ctx.addIssue({ code: 'custom', path: ['groups', i, 'name'], message: `'${g.name}' twice` });
      seen.add(g.name);
    });
  });
export const failBody = z.strictObject({
  ...attemptField,
  message: z.string().min(1).max(4000),
  retryable: z.boolean().default(true),
});

/** What every trial report answers: whether the agent must stop (cancelled, lease lost, diverged). */
export const reportAnswer = z.object({
  ok: z.literal(true),
  shouldStop: z.boolean(),
  leaseExpiresAt: z.iso.datetime().nullable(),
  /** Set when the trial ended on the server's side (diverged on a non-finite metric). */
  status: z.string().optional(),
});

export const lrQuery = z.strictObject({
  attempt: z.coerce.number().int().positive(),
  leaseToken: z.string().max(200).optional(),
  from: z.coerce.number().int().min(0).default(0),
  count: z.coerce.number().int().min(1).max(agentLimits.maxLrChunk).default(1000),
});
export const lrAnswer = z.object({ from: z.number().int(), lr: z.array(z.number()) });

/** A page of the fleet: `?limit` (≤ 100) and the `cursor` the previous page gave. */
export const fleetPageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(fleetPageLimit).default(fleetPageLimit),
  /** The previous page's `nextCursor`. */
  cursor: z.uuid().optional(),
});

export const agentView = z.object({
  id: z.uuid(),
  name: z.string(),
  pool: z.string(),
  labels: z.record(z.string(), z.string()),
  framework: z.string().nullable(),
  device: z.string().nullable(),
  host: z.string().nullable(),
  sdk: z.string().nullable(),
  registeredAt: z.iso.datetime(),
  lastHeartbeatAt: z.iso.datetime(),
  /** A heartbeat within the last three heartbeat periods. */
  alive: z.boolean(),
  currentTrialId: z.uuid().nullable(),
});

/** One registry for built-in workers and external agents (GET /v1/workers). */
export const workerView = z
  .object({
    id: z.uuid(),
    kind: z.enum(['worker', 'agent']),
    name: z.string(),
    host: z.string().nullable(),
    pools: z.array(z.string()),
    backend: z.string().nullable(),
    device: z.string().nullable(),
    /** Built-in workers: the device's name (GPU model from nvidia-smi, or the CPU), memory, NVIDIA driver. */
    deviceName: z.string().nullable(),
    deviceMemoryMiB: z.number().int().nullable(),
    driver: z.string().nullable(),
    framework: z.string().nullable(),
    slots: z.number().int().nullable(),
    version: z.string().nullable(),
    startedAt: z.iso.datetime(),
    lastHeartbeatAt: z.iso.datetime(),
    /** alive: heartbeating; lost: silent for longer than the lease; stopped: shut down cleanly. */
    state: z.enum(['alive', 'lost', 'stopped']),
    /** The caller's project's trials it runs now (an operator sees every project's). */
    runningTrials: z.array(z.object({ trialId: z.uuid(), sweepId: z.uuid() })),
    /** Trials of other projects it runs now: counted, never named (except to an operator). */
    otherProjectTrials: z.number().int(),
  })
  .meta({ id: 'Worker' });
export const workersAnswer = z.object({ workers: z.array(workerView), nextCursor: z.string().nullable() });
export const agentsAnswer = z.object({ agents: z.array(agentView), nextCursor: z.string().nullable() });
