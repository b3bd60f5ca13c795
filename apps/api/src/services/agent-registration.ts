// An agent says who it is (once) and that it is alive (every heartbeatMs).
import { agentProtocol, type Caller, can } from '@lrsweep/contract';
import { heartbeatAgent, registerAgent } from '@lrsweep/db';
import { ApiError } from '../errors';
import type { AgentContext } from './agent-context';

export interface Registration {
  name: string;
  pool: string;
  protocolVersion: number;
  labels?: Record<string, string>;
  framework?: string;
  device?: string;
  host?: string;
  sdk?: string;
}

export async function register({ d }: AgentContext, caller: Caller, body: Registration) {
  if (!(agentProtocol.supported as readonly number[]).includes(body.protocolVersion)) {
    throw new ApiError(
      'PROTOCOL_INCOMPATIBLE',
      `this server speaks agent protocol ${agentProtocol.supported.join(', ')}, not ${body.protocolVersion}: upgrade the agent's SDK to ${agentProtocol.sdks} (docs/agents.md, "Migrating from protocol 1")`,
    );
  }
  if (!can.serve(caller, body.pool)) throw new ApiError('FORBIDDEN', `this token may not serve pool '${body.pool}'`);
  const a = await registerAgent(d.db, { ...body, projectId: caller.projectId });
  return { agentId: a.id, protocolVersion: agentProtocol.version, heartbeatMs: d.heartbeatMs, leaseMs: d.leaseMs };
}

export async function heartbeat(ctx: AgentContext, caller: Caller, agentId: string) {
  await ctx.mustAgent(caller, agentId);
  await heartbeatAgent(ctx.d.db, agentId, caller.projectId);
  return { ok: true as const };
}
