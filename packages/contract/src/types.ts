/**
 * The API's request and answer types, derived from the schemas the routes validate and serialize
 * with: a changed route breaks the build of every caller (client, CLI, dashboard, tests).
 */
import type { z } from 'zod';
import type {
  agentRegistered,
  agentView,
  claimedTrialSchema,
  registerAgentBody,
  reportAnswer,
  rungAnswer,
  workersAnswer,
  workerView,
} from './agents';
import type {
  cancelAnswer,
  createTokenBody,
  curvesAnswer,
  metricsSchema,
  previewAnswer,
  previewBody,
  resultsAnswer,
  retryAnswer,
  schedulesAnswer,
  extendAnswer,
  extendSweepBody,
  sweepCreatedSchema,
  sweepDetailSchema,
  sweepSummarySchema,
  tokenView,
  trialAttemptsAnswer,
  trialAttemptSchema,
  trialSchema,
  validateAnswer,
} from './api';

export type SweepCreated = z.output<typeof sweepCreatedSchema>;
export type ExtendSweep = z.input<typeof extendSweepBody>;
export type SweepExtended = z.output<typeof extendAnswer>;
export type SweepSummary = z.output<typeof sweepSummarySchema>;
export type SweepDetail = z.output<typeof sweepDetailSchema>;
export type SweepPage = { sweeps: SweepSummary[]; total: number; limit: number; offset: number };
export type Trial = z.output<typeof trialSchema>;
export type TrialPage = { trials: Trial[]; total: number; limit: number; offset: number };
export type TrialAttempt = z.output<typeof trialAttemptSchema>;
export type TrialAttempts = z.output<typeof trialAttemptsAnswer>;
export type TrialMetrics = z.output<typeof metricsSchema>;
export type Results = z.output<typeof resultsAnswer>;
export type RankingRow = Results['ranking'][number];
export type PrunedRow = NonNullable<Results['pruned']>[number];
export type ScheduleAnalysis = z.output<typeof schedulesAnswer>;
export type Curves = z.output<typeof curvesAnswer>;
export type PreviewRequest = z.input<typeof previewBody>;
export type Preview = z.output<typeof previewAnswer>;
export type ValidateAnswer = z.output<typeof validateAnswer>;
export type TokenView = z.output<typeof tokenView>;
export type CreateTokenRequest = z.input<typeof createTokenBody>;
export type CreatedToken = TokenView & { token: string };
export type CancelAnswer = z.output<typeof cancelAnswer>;
export type RetryAnswer = z.output<typeof retryAnswer>;
export type RegisterAgentRequest = z.input<typeof registerAgentBody>;
export type AgentRegistered = z.output<typeof agentRegistered>;
export type ClaimedTrial = z.output<typeof claimedTrialSchema>;
export type ReportAnswer = z.output<typeof reportAnswer>;
export type RungAnswer = z.output<typeof rungAnswer>;
export type AgentView = z.output<typeof agentView>;
export type WorkerView = z.output<typeof workerView>;
export type WorkersAnswer = z.output<typeof workersAnswer>;
