/**
 * The agent protocol (docs/agents.md): external trainers in any framework register as agents of
 * a pool, claim its trials, and report under the same guarantees as built-in workers.
 */
import { scheduleSchema } from '@lrsweep/schedules';
import { z } from 'zod';
import { poolNameSchema } from './jobs';
import { metricNameSchema } from './metrics';

/** Protocol versions this server speaks; an SDK that speaks another is refused (426). */
export const agentProtocol = { version: 1, supported: [1] } as const;

/** The most long-poll a claim may ask for, and the most rows one batch may carry. */
export const agentLimits = { maxClaimWaitMs: 20_000, maxBatchRows: 10_000, maxLrChunk: 10_000 } as const;

/** |lr − want| ≤ relative·|want| + absolute: what "the schedule's rate" means for a reported `lr`. */
export const lrTolerance = { relative: 1e-9, absolute: 1e-15 } as const;
export const lrMatches = (lr: number, want: number) => Math.abs(lr - want) <= lrTolerance.relative * Math.abs(want) + lrTolerance.absolute;

const shortText = z.string().min(1).max(200);

export const registerAgentBody = z.strictObject({
  name: shortText.regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/, 'letters, digits and . _ : @ -'),
  pool: poolNameSchema,
  labels: z.record(z.string().max(64), z.string().max(200)).optional(),
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
  /** runner.config merged with this trial's grid.config values. */
  config: z.record(z.string(), z.unknown()),
  /** 0 on a first attempt, else the step after the last checkpoint marker, whose uri this is. */
  resumeStep: z.number().int(),
  checkpointUri: z.string().nullable(),
  /** The first chunk of rates (updates `from` … `from + 999`, `from` = resumeStep rounded down to 1 000), to start at once. */
  lr: z.object({ from: z.number().int(), lr: z.array(z.number()) }),
});
export const claimAnswer = z.object({ trial: claimedTrialSchema.nullable() });

const attemptField = { attempt: z.number().int().positive() };
const finite = z.number().refine(Number.isFinite, 'a finite number (send null for NaN or ±Infinity)');

export const updatesBody = z.strictObject({
  ...attemptField,
  updates: z
    .array(z.strictObject({ step: z.number().int().min(0), lr: finite, loss: finite.nullable() }))
    .min(1)
    .max(agentLimits.maxBatchRows),
});

export const evalBody = z.strictObject({
  ...attemptField,
  /** Updates done when the evaluation ran (1 … totalSteps). */
  step: z.number().int().min(1),
  metrics: z.record(metricNameSchema, finite.nullable()).refine((m) => Object.keys(m).length > 0, 'at least one metric'),
});

export const checkpointBody = z.strictObject({
  ...attemptField,
  /** The marker covers updates 0 … step. */
  step: z.number().int().min(0),
  uri: z.string().min(1).max(2000),
});

export const attemptBody = z.strictObject(attemptField);
export const failBody = z.strictObject({ ...attemptField, message: z.string().min(1).max(4000), retryable: z.boolean().default(true) });

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
  from: z.coerce.number().int().min(0).default(0),
  count: z.coerce.number().int().min(1).max(agentLimits.maxLrChunk).default(1000),
});
export const lrAnswer = z.object({ from: z.number().int(), lr: z.array(z.number()) });

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
export const workersAnswer = z.object({ workers: z.array(workerView) });
