import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiRequestError, createClient, type SweepDetail } from '@lrsweep/client';
import { sweepSpecSchema } from '@lrsweep/contract';
import { describeSchedule, toSpecIssues } from '@lrsweep/schedules';
import { expandSweep } from '@lrsweep/sweep';
import { parse as parseYaml } from 'yaml';
import { progressLine, rankingTable } from './render';
import { formatTable } from './table';

/** Exit codes scripts can rely on. */
export const exitCodes = {
  ok: 0,
  /** The API answered an error, or could not be reached. */
  apiError: 1,
  /** Bad usage, or an invalid spec (each problem printed with its path). */
  invalid: 2,
  /** --follow: the sweep finished with failed trials. */
  trialsFailed: 3,
  /** --follow: the sweep was cancelled. */
  cancelled: 4,
  /** The sweep, trial or token does not exist (or is another project's). */
  notFound: 5,
} as const;

export const usage = `lrsweep — learning-rate schedule sweeps

usage:
  lrsweep submit <spec.json|spec.yaml> [--dry-run] [--follow] [--idempotency-key <key>]
  lrsweep status <sweep-id>
  lrsweep results <sweep-id> [--json | --csv] [--metric val_loss|val_acc|train_loss] [--aggregate final|best|auc] [--rank-by mean|ci]
  lrsweep cancel <sweep-id>
  lrsweep retry <sweep-id>
  lrsweep agents
  lrsweep tokens create --project <id> --name <name> [--role admin|member|agent] [--pools a,b]
  lrsweep tokens list [--project <id>]
  lrsweep tokens revoke <token-id>

options:
  --api <url>      the API (default: $LRSWEEP_API_URL or http://127.0.0.1:3000)
  --token <token>  an API token (default: $LRSWEEP_TOKEN)

exit codes: 0 ok · 1 API error · 2 usage or invalid spec · 3 sweep finished with failed trials ·
            4 sweep cancelled · 5 not found`;

export interface Io {
  out(s: string): void;
  err(s: string): void;
  isTty: boolean;
  env: NodeJS.ProcessEnv;
}

/** Reads a spec file (JSON or YAML by extension). */
function readSpec(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  return ['.yaml', '.yml'].includes(extname(path).toLowerCase()) ? parseYaml(text) : JSON.parse(text);
}

/** Runs one command line; resolves to the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        api: { type: 'string' },
        token: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        follow: { type: 'boolean', default: false },
        'idempotency-key': { type: 'string' },
        json: { type: 'boolean', default: false },
        csv: { type: 'boolean', default: false },
        metric: { type: 'string' },
        aggregate: { type: 'string' },
        'rank-by': { type: 'string' },
        project: { type: 'string' },
        name: { type: 'string' },
        admin: { type: 'boolean', default: false },
        role: { type: 'string' },
        pools: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${usage}`);
    return exitCodes.invalid;
  }
  const { values: o, positionals: [command, ...args] } = parsed;
  if (o.help || !command) {
    (o.help ? io.out : io.err)(usage);
    return o.help ? exitCodes.ok : exitCodes.invalid;
  }
  const client = createClient({ baseUrl: o.api ?? io.env.LRSWEEP_API_URL ?? 'http://127.0.0.1:3000', token: o.token ?? io.env.LRSWEEP_TOKEN });
  const need = (what: string) => {
    if (!args[0]) throw new UsageError(`${command} needs ${what}`);
    return args[0];
  };

  try {
    switch (command) {
      case 'submit':
        return await submit(need('a spec file'), o, client, io);
      case 'status': {
        const s = await client.getSweep(need('a sweep id'));
        io.out(`${s.name} (${s.id}): ${s.status}\n${progressLine(s, (Date.now() - Date.parse(s.createdAt)) / 1000)}`);
        return exitCodes.ok;
      }
      case 'results': {
        const id = need('a sweep id');
        const q = { metric: o.metric as never, aggregate: o.aggregate as never, rankBy: o['rank-by'] as never };
        if (o.csv) io.out((await client.resultsCsv(id, q)).trimEnd());
        else {
          const r = await client.results(id, q);
          io.out(o.json ? JSON.stringify(r, null, 2) : `${r.provisional ? '(provisional: the sweep is still running)\n' : ''}${rankingTable(r.ranking, r.objective.metric)}`);
        }
        return exitCodes.ok;
      }
      case 'cancel': {
        const r = await client.cancelSweep(need('a sweep id'));
        io.out(`cancelled ${r.cancelledTrials} trials; sweep ${r.sweep.id} is ${r.sweep.status}`);
        return exitCodes.ok;
      }
      case 'retry': {
        const r = await client.retrySweep(need('a sweep id'));
        io.out(`re-queued ${r.retriedTrials} failed trials; sweep ${r.sweep.id} is ${r.sweep.status}`);
        return exitCodes.ok;
      }
      case 'tokens':
        return await tokens(args, o, client, io);
      case 'agents': {
        const { agents } = await client.listAgents();
        if (!agents.length) io.out('no agent has registered (see docs/agents.md)');
        else {
          const ago = (iso: string) => `${Math.round((Date.now() - Date.parse(iso)) / 1000)} s ago`;
          io.out(formatTable(['name', 'pool', 'state', 'heartbeat', 'framework', 'current trial'], agents.map((a) => [a.name, a.pool, a.alive ? 'alive' : 'gone', ago(a.lastHeartbeatAt), a.framework ?? '', a.currentTrialId ?? ''])));
        }
        return exitCodes.ok;
      }
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${usage}`);
      return exitCodes.invalid;
    }
    if (err instanceof ApiRequestError) {
      io.err(`error: ${err.message}`);
      for (const i of err.issues) io.err(`  ${i.path || '(root)'}: ${i.message}`);
      return err.status === 404 ? exitCodes.notFound : err.status === 400 ? exitCodes.invalid : exitCodes.apiError;
    }
    const e = err as { cause?: { code?: string }; message: string };
    io.err(e.cause?.code === 'ECONNREFUSED' ? `error: the API is not reachable (${e.message}); start it or pass --api` : `error: ${e.message}`);
    return exitCodes.apiError;
  }
}

class UsageError extends Error {}

type Opts = Record<string, string | boolean | undefined>;
type Client = ReturnType<typeof createClient>;

async function submit(file: string, o: Opts, client: Client, io: Io): Promise<number> {
  let raw: unknown;
  try {
    raw = readSpec(file);
  } catch (err) {
    io.err(`${file}: ${(err as Error).message}`);
    return exitCodes.invalid;
  }
  // The same schema and expansion as the API: problems are found before anything is sent.
  const parsed = sweepSpecSchema.safeParse(raw);
  const issues = parsed.success ? [] : toSpecIssues(parsed.error);
  const expanded = parsed.success ? expandSweep(parsed.data, { maxTrials: Number(io.env.LRSWEEP_MAX_TRIALS ?? 10_000) }) : null;
  if (expanded && !expanded.ok) issues.push(...expanded.issues);
  if (issues.length || !expanded?.ok) {
    io.err(`${file} is not a valid sweep:`);
    for (const i of issues) io.err(`  ${i.path || '(root)'}: ${i.message}`);
    return exitCodes.invalid;
  }
  const { plan } = expanded;
  if (o['dry-run']) {
    io.out(`${plan.spec.name}: ${plan.trialCount} trials = ${plan.configs.length} configurations × ${plan.seeds.length} seeds; ${plan.totalSteps} updates each, ${plan.trialCount * plan.totalSteps} in all`);
    io.out(
      formatTable(
        ['#', 'schedule', 'base LR', 'seeds'],
        plan.configs.slice(0, 30).map((c, i) => [String(i + 1), describeSchedule(c.schedule), String(c.baseLr), plan.seeds.join(',')]),
        { alignRight: [0, 2] },
      ),
    );
    if (plan.configs.length > 30) io.out(`… and ${plan.configs.length - 30} more configurations`);
    return exitCodes.ok;
  }
  const created = await client.submitSweep(raw as never, { idempotencyKey: o['idempotency-key'] as string | undefined });
  io.out(`submitted ${created.name}: sweep ${created.id}, ${created.trialCount} trials, ${created.totalSteps} updates each`);
  if (!o.follow) return exitCodes.ok;

  const t0 = Date.now();
  let last = '';
  const final: SweepDetail = await client.follow(created.id, (s) => {
    const line = progressLine(s, (Date.now() - t0) / 1000);
    if (io.isTty) io.err(`\r${line}`);
    else if (line.split(' · ')[0] !== last.split(' · ')[0]) io.err(line);
    last = line;
  });
  if (io.isTty) io.err('\n');
  const r = await client.results(created.id);
  io.out(rankingTable(r.ranking, r.objective.metric));
  if (final.status === 'cancelled') return exitCodes.cancelled;
  return final.status === 'failed' || final.counts.failed > 0 ? exitCodes.trialsFailed : exitCodes.ok;
}

async function tokens(args: string[], o: Opts, client: Client, io: Io): Promise<number> {
  const [sub, arg] = args;
  if (sub === 'create') {
    if (!o.project || !o.name) throw new UsageError('tokens create needs --project and --name');
    const role = (o.role as 'admin' | 'member' | 'agent' | undefined) ?? (o.admin ? 'admin' : undefined);
    const pools = o.pools ? (o.pools as string).split(',').map((p) => p.trim()) : undefined;
    const t = await client.createToken({ projectId: o.project as string, name: o.name as string, ...(role ? { role } : {}), ...(pools ? { pools } : {}) });
    io.out(`created token ${t.id} (${t.role}${t.pools.length ? ` of pools ${t.pools.join(', ')}` : ''}, project ${t.projectId}); store it now, it is not shown again:\n${t.token}`);
  } else if (sub === 'list') {
    const { tokens: list } = await client.listTokens(o.project as string | undefined);
    io.out(formatTable(['id', 'project', 'name', 'role', 'pools', 'state'], list.map((t) => [t.id, t.projectId, t.name, t.role, t.pools.join(','), t.revokedAt ? `revoked ${t.revokedAt}` : 'active'])));
  } else if (sub === 'revoke' && arg) {
    await client.revokeToken(arg);
    io.out(`revoked ${arg}`);
  } else throw new UsageError('tokens create|list|revoke');
  return exitCodes.ok;
}
