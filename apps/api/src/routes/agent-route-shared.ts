import { errorBodySchema } from '@lrsweep/contract';
import type { Db } from '@lrsweep/db';
import { z } from 'zod';
import type { Revocations } from '../revocations';
import type { AgentService } from '../services/agent-service';

/** What the agent route families take. */
export interface AgentRouteDeps {
  db: Db;
  agents: AgentService;
  revocations: Revocations;
  aliveMs: number;
}

export const agentErrors = {
  400: errorBodySchema,
  401: errorBodySchema,
  403: errorBodySchema,
  404: errorBodySchema,
  409: errorBodySchema,
  429: errorBodySchema,
};
export const done = z.object({ ok: z.literal(true), status: z.string() });
export const tags = ['agents'];
/** The agent bucket each route draws from (`config.agentLimit`, agent-limits.ts). */
export const limits = {
  register: { agentLimit: 'register' as const },
  claim: { agentLimit: 'claim' as const },
  report: { agentLimit: 'report' as const },
  control: { agentLimit: 'control' as const },
};
