import { exitCodes, type Ctx } from './cli-context';
import { UsageError } from './options';
import { formatTable } from './table';

const ago = (iso: string) => `${Math.round((Date.now() - Date.parse(iso)) / 1000)} s ago`;

/** `lrsweep workers`: the built-in workers and agents, what they run and when they were last heard. */
export async function workersCommand({ client, io }: Ctx): Promise<number> {
  const { workers } = await client.listWorkers();
  if (!workers.length) io.out('no worker has registered');
  else
    io.out(
      formatTable(
        ['name', 'kind', 'state', 'pools', 'backend', 'device', 'slots', 'running', 'heartbeat', 'version'],
        workers.map((w) => [
          w.name,
          w.kind,
          w.state,
          w.pools.join(','),
          w.backend ?? w.framework ?? '',
          w.deviceName ?? w.device ?? '',
          w.slots === null ? '' : String(w.slots),
          String(w.runningTrials.length + w.otherProjectTrials),
          ago(w.lastHeartbeatAt),
          w.version ?? '',
        ]),
      ),
    );
  return exitCodes.ok;
}

/** `lrsweep agents`: the project's agents, alive or gone, and their current trials. */
export async function agentsCommand({ client, io }: Ctx): Promise<number> {
  const { agents } = await client.listAgents();
  if (!agents.length) io.out('no agent has registered (see docs/agents.md)');
  else
    io.out(
      formatTable(
        ['name', 'pool', 'state', 'heartbeat', 'framework', 'current trial'],
        agents.map((a) => [
          a.name,
          a.pool,
          a.alive ? 'alive' : 'gone',
          ago(a.lastHeartbeatAt),
          a.framework ?? '',
          a.currentTrialId ?? '',
        ]),
      ),
    );
  return exitCodes.ok;
}

/** `lrsweep tokens create|list|revoke`. */
export async function tokensCommand({ args, o, client, io }: Ctx): Promise<number> {
  const [sub, arg] = args;
  if (sub === 'create') {
    if (!o.project || !o.name) throw new UsageError('tokens create needs --project and --name');
    const role = (o.role as 'admin' | 'member' | 'agent' | undefined) ?? (o.admin ? 'admin' : undefined);
    const pools = o.pools ? (o.pools as string).split(',').map((p) => p.trim()) : undefined;
    const t = await client.createToken({
      projectId: o.project as string,
      name: o.name as string,
      ...(role ? { role } : {}),
      ...(pools ? { pools } : {}),
    });
    io.out(
      `created token ${t.id} (${t.role}${t.pools.length ? ` of pools ${t.pools.join(', ')}` : ''}, project ${t.projectId}); store it now, it is not shown again:\n${t.token}`,
    );
  } else if (sub === 'list') {
    const { tokens: list } = await client.listTokens(o.project as string | undefined);
    io.out(
      formatTable(
        ['id', 'project', 'name', 'role', 'pools', 'state'],
        list.map((t) => [
          t.id,
          t.projectId,
          t.name,
          t.role,
          t.pools.join(','),
          t.revokedAt ? `revoked ${t.revokedAt}` : 'active',
        ]),
      ),
    );
  } else if (sub === 'revoke' && arg) {
    await client.revokeToken(arg);
    io.out(`revoked ${arg}`);
  } else throw new UsageError('tokens create|list|revoke');
  return exitCodes.ok;
}
