import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiRequestError, createClient, type SweepDetail } from '@lrsweep/client';
import { sweepSpecSchema } from '@lrsweep/contract';
import { describeSchedule, toSpecIssues } from '@lrsweep/schedules';
import { ashaPlanOf, expandSweep, planForks, planTrials } from '@lrsweep/sweep';
import { parse as parseYaml } from 'yaml';
import {
  ashaLine,
  failureLines,
  forkLine,
  progressLine,
  prunedTable,
  rangeTestLines,
  transferLines,
  rankingTable,
  sweepTable,
  verdictTable,
} from './render';
import { runExport } from './export';
import { apiBase, type Opts, positive, UsageError } from './options';
import { slurmCommand } from './slurm';
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
  lrsweep submit <spec.json|spec.yaml> [--dry-run] [--follow] [--idempotency-key <key>] [--lr-from <range-test-id>]
  lrsweep range-test <sweep-id> [--json]
  lrsweep transfer <sweep-id> [--json] [--target-width <w>] [--target-steps <T>]
  lrsweep export tensorboard <sweep-id> --out <dir>   (runs python -m lrsweep export; $LRSWEEP_PYTHON)
  lrsweep slurm up --pool <pool> --template <agent.sbatch> --max-jobs <n> [--once] [--interval <s>] [--idle-timeout <s>]
  lrsweep slurm status --pool <pool>
  lrsweep slurm down --pool <pool>
  lrsweep list [--limit <n>]
  lrsweep status <sweep-id>
  lrsweep follow <sweep-id>
  lrsweep results <sweep-id> [--json | --csv] [--metric val_loss|val_acc|train_loss] [--aggregate final|best|auc] [--rank-by mean|ci]
  lrsweep cancel <sweep-id>
  lrsweep retry <sweep-id>
  lrsweep delete <sweep-id> [--yes]
  lrsweep extend <sweep-id> [--seeds <n>] [--lr <a,b,…>]
  lrsweep agents
  lrsweep workers
  lrsweep tokens create --project <id> --name <name> [--role admin|member|agent] [--pools a,b]
  lrsweep tokens list [--project <id>]
  lrsweep tokens revoke <token-id>

A sweep id may be shortened to any prefix that names one sweep (as \`lrsweep list\` shows them).

options:
  --api <url>      the API, with or without /v1 (default: $LRSWEEP_API_URL or http://127.0.0.1:3000)
  --token <token>  an API token (default: $LRSWEEP_TOKEN)
  --yes            delete without asking

exit codes: 0 ok · 1 API error · 2 usage or invalid spec · 3 sweep finished with failed trials ·
            4 sweep cancelled · 5 not found`;

export interface Io {
  out(s: string): void;
  err(s: string): void;
  isTty: boolean;
  env: NodeJS.ProcessEnv;
  /** Asks a question on the terminal; null when there is nobody to answer (no input). */
  ask?(question: string): Promise<string | null>;
}

/** What a user without a token needs to know, once, where the 401 would otherwise be all. */
export const tokenHint = `hint: set LRSWEEP_TOKEN (or pass --token) to an API token. The operator's token is the API's
      LRSWEEP_BOOTSTRAP_TOKEN (\`pnpm demo\` prints one); an admin mints others with
      \`lrsweep tokens create --project <project> --name <you>\`.`;

/** Reads a spec file (JSON or YAML by extension). */
function readSpec(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  return ['.yaml', '.yml'].includes(extname(path).toLowerCase()) ? parseYaml(text) : JSON.parse(text);
}

/** Runs one command line; resolves to the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  // biome-ignore lint/suspicious/noImplicitAnyLet: TypeScript types it from the parseArgs call below (its options' literal type).
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
        limit: { type: 'string' },
        seeds: { type: 'string' },
        lr: { type: 'string' },
        'lr-from': { type: 'string' },
        'target-width': { type: 'string' },
        'target-steps': { type: 'string' },
        out: { type: 'string' },
        pool: { type: 'string' },
        template: { type: 'string' },
        'max-jobs': { type: 'string' },
        once: { type: 'boolean', default: false },
        interval: { type: 'string' },
        'idle-timeout': { type: 'string' },
        holder: { type: 'string' },
        yes: { type: 'boolean', short: 'y', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${usage}`);
    return exitCodes.invalid;
  }
  const {
    values: o,
    positionals: [command, ...args],
  } = parsed;
  if (o.help || !command) {
    (o.help ? io.out : io.err)(usage);
    return o.help ? exitCodes.ok : exitCodes.invalid;
  }
  const token = o.token ?? io.env.LRSWEEP_TOKEN;
  const client = createClient({ baseUrl: apiBase(o, io.env), token });
  const need = (what: string) => {
    if (!args[0]) throw new UsageError(`${command} needs ${what}`);
    return args[0];
  };
  const sweepId = () => resolveSweepId(client, need('a sweep id'));

  try {
    switch (command) {
      case 'submit':
        return await submit(need('a spec file'), o, client, io);
      case 'list': {
        const limit = o.limit ? Number(o.limit) : 20;
        if (!Number.isInteger(limit) || limit < 1 || limit > 500)
          throw new UsageError('--limit must be an integer from 1 to 500');
        const page = await client.listSweeps({ limit });
        io.out(page.sweeps.length ? sweepTable(page.sweeps) : 'no sweeps yet: lrsweep submit <spec>');
        if (page.total > page.sweeps.length)
          io.out(`(${page.sweeps.length} newest of ${page.total}; --limit for more)`);
        return exitCodes.ok;
      }
      case 'status': {
        const s = await client.getSweep(await sweepId());
        io.out(`${s.name} (${s.id}): ${s.status}\n${progressLine(s, elapsedOf(s))}`);
        if (s.forks) io.out(forkLine(s.forks));
        for (const l of failureLines(s.failures)) io.out(l);
        return exitCodes.ok;
      }
      case 'follow':
        return await followSweep(await sweepId(), client, io);
      case 'range-test': {
        const r = await client.rangeTest(await sweepId());
        if (o.json) io.out(JSON.stringify(r, null, 2));
        else io.out(rangeTestLines(r).join('\n'));
        return exitCodes.ok;
      }
      case 'transfer': {
        const q = {
          ...(o['target-width'] !== undefined ? { targetWidth: positive(o['target-width'], '--target-width') } : {}),
          ...(o['target-steps'] !== undefined ? { targetSteps: positive(o['target-steps'], '--target-steps') } : {}),
        };
        const t = await client.transfer(await sweepId(), q);
        io.out(o.json ? JSON.stringify(t, null, 2) : transferLines(t).join('\n'));
        return exitCodes.ok;
      }
      case 'export': {
        const [target, id] = args;
        if (target !== 'tensorboard')
          throw new UsageError('export writes tensorboard: lrsweep export tensorboard <sweep-id> --out <dir>');
        if (!id) throw new UsageError('export tensorboard needs a sweep id');
        if (!o.out) throw new UsageError('export tensorboard needs --out <dir> (the log directory)');
        const full = await resolveSweepId(client, id);
        return await runExport({ target, sweepId: full, out: o.out, api: apiBase(o, io.env), token }, io);
      }
      case 'slurm':
        return await slurmCommand(args[0], o, client, token, io);
      case 'results': {
        const id = await sweepId();
        const q = { metric: o.metric as never, aggregate: o.aggregate as never, rankBy: o['rank-by'] as never };
        if (o.csv) io.out((await client.resultsCsv(id, q)).trimEnd());
        else if (o.json) io.out(JSON.stringify(await client.results(id, q), null, 2));
        else await printAnswer(id, client, io, { metric: q.metric, aggregate: q.aggregate, rankBy: q.rankBy });
        return exitCodes.ok;
      }
      case 'cancel': {
        const r = await client.cancelSweep(await sweepId());
        io.out(`cancelled ${r.cancelledTrials} trials; sweep ${r.sweep.id} is ${r.sweep.status}`);
        return exitCodes.ok;
      }
      case 'retry': {
        const r = await client.retrySweep(await sweepId());
        io.out(`re-queued ${r.retriedTrials} failed trials; sweep ${r.sweep.id} is ${r.sweep.status}`);
        return exitCodes.ok;
      }
      case 'extend': {
        const id = await sweepId();
        const body: { seeds?: number; baseLr?: number[] } = {};
        if (o.seeds !== undefined) body.seeds = Number(o.seeds);
        if (o.lr !== undefined) body.baseLr = (o.lr as string).split(',').map((x) => Number(x.trim()));
        if (!Object.keys(body).length) throw new UsageError('extend needs --seeds or --lr');
        const r = await client.extendSweep(id, body as never, { idempotencyKey: randomUUID() });
        io.out(
          `added ${r.addedTrials} trials; sweep ${r.id} now has ${r.trialCount}${r.delivery === 'pending' ? ' (delivery pending)' : ''}`,
        );
        return exitCodes.ok;
      }
      case 'delete': {
        const s = await client.getSweep(await sweepId());
        if (!o.yes) {
          const answer = io.ask
            ? await io.ask(
                `delete sweep '${s.name}' (${s.id}): ${s.counts.total} trials and all their metrics? type yes: `,
              )
            : null;
          if (answer === null)
            throw new UsageError('delete asks for confirmation: answer on a terminal, or pass --yes');
          if (answer.trim().toLowerCase() !== 'yes') {
            io.err('not deleted');
            return exitCodes.invalid;
          }
        }
        const r = await client.deleteSweep(s.id);
        io.out(`deleted sweep ${r.id}: ${r.trials} trials and their metrics`);
        return exitCodes.ok;
      }
      case 'tokens':
        return await tokens(args, o, client, io);
      case 'workers': {
        const { workers } = await client.listWorkers();
        if (!workers.length) io.out('no worker has registered');
        else {
          const ago = (iso: string) => `${Math.round((Date.now() - Date.parse(iso)) / 1000)} s ago`;
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
        }
        return exitCodes.ok;
      }
      case 'agents': {
        const { agents } = await client.listAgents();
        if (!agents.length) io.out('no agent has registered (see docs/agents.md)');
        else {
          const ago = (iso: string) => `${Math.round((Date.now() - Date.parse(iso)) / 1000)} s ago`;
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
      if (err.status === 401 && !token) io.err(tokenHint);
      return err.status === 404 ? exitCodes.notFound : err.status === 400 ? exitCodes.invalid : exitCodes.apiError;
    }
    const e = err as { cause?: { code?: string }; message: string };
    io.err(
      e.cause?.code === 'ECONNREFUSED'
        ? `error: the API is not reachable (${e.message}); start it or pass --api`
        : `error: ${e.message}`,
    );
    return exitCodes.apiError;
  }
}

type Client = ReturnType<typeof createClient>;

async function submit(file: string, o: Opts, client: Client, io: Io): Promise<number> {
  let raw: unknown;
  try {
    raw = readSpec(file);
  } catch (err) {
    io.err(`${file}: ${(err as Error).message}`);
    return exitCodes.invalid;
  }
  if (typeof o['lr-from'] === 'string') {
    // The grid's base LRs from a range test's suggestion, in one step.
    const from = await resolveSweepId(client, o['lr-from']);
    const r = await client.rangeTest(from);
    if (!r.suggested.baseLr.length)
      throw new UsageError(`range test ${from} has no suggestion yet (no updates recorded)`);
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw new UsageError(`${file}: a spec is a JSON or YAML object`);
    const spec = raw as { grid?: Record<string, unknown> };
    raw = { ...spec, grid: { ...spec.grid, baseLr: r.suggested.baseLr } };
    io.out(`grid.baseLr from range test ${from}: [${r.suggested.baseLr.join(', ')}]`);
  }
  // The same schema and expansion as the API: problems are found before anything is sent.
  const parsed = sweepSpecSchema.safeParse(raw);
  const issues = parsed.success ? [] : toSpecIssues(parsed.error);
  const expanded = parsed.success
    ? expandSweep(parsed.data, { maxTrials: Number(io.env.LRSWEEP_MAX_TRIALS ?? 10_000) })
    : null;
  if (expanded && !expanded.ok) issues.push(...expanded.issues);
  if (issues.length || !expanded?.ok) {
    io.err(`${file} is not a valid sweep:`);
    for (const i of issues) io.err(`  ${i.path || '(root)'}: ${i.message}`);
    return exitCodes.invalid;
  }
  const { plan } = expanded;
  if (o['dry-run']) {
    io.out(
      `${plan.spec.name}: ${plan.trialCount} trials = ${plan.configs.length} configurations × ${plan.seeds.length} seeds; ${plan.spec.grid.horizon ? `horizons ${plan.spec.grid.horizon.join(', ')} updates` : `${plan.totalSteps} updates each`}, ${plan.totalUpdates} in all`,
    );
    io.out(
      formatTable(
        ['#', 'schedule', 'base LR', 'seeds'],
        plan.configs
          .slice(0, 30)
          .map((c, i) => [String(i + 1), describeSchedule(c.schedule), String(c.baseLr), plan.seeds.join(',')]),
        { alignRight: [0, 2] },
      ),
    );
    if (plan.configs.length > 30) io.out(`… and ${plan.configs.length - 30} more configurations`);
    const { summary: f } = planForks(plan, planTrials(plan, 'dry-run'));
    if (f.forks) io.out(forkLine(f));
    if (plan.spec.search?.kind === 'asha') io.out(ashaLine(ashaPlanOf(plan.spec.search, plan)));
    return exitCodes.ok;
  }
  // Every submission carries an Idempotency-Key (the user's, or a fresh one), so the retries below,
  // or the user re-running with the key printed on failure, can never create a twin sweep.
  const key = (o['idempotency-key'] as string | undefined) ?? randomUUID();
  const created = await submitWithRetries(client, raw, key, io);
  io.out(
    `submitted ${created.name}: sweep ${created.id}, ${created.trialCount} trials, ${created.totalSteps} updates each`,
  );
  if (created.delivery === 'pending') {
    io.err(
      'delivery pending: the queue (Redis) did not take the trials now; the API delivers them as soon as it can, nothing is lost',
    );
  }
  if (!o.follow) return exitCodes.ok;
  return followSweep(created.id, client, io);
}

/** Submits, retrying what a retry can fix (no answer, 429, 503) with the same key: at most one sweep. */
async function submitWithRetries(client: Client, raw: unknown, key: string, io: Io) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.submitSweep(raw as never, { idempotencyKey: key });
    } catch (err) {
      const retriable = !(err instanceof ApiRequestError) || err.status === 429 || err.status === 503;
      if (!retriable) throw err;
      if (attempt === 3) {
        io.err(
          `the sweep may or may not have been created; re-run with --idempotency-key ${key} to get it without making a second one`,
        );
        throw err;
      }
      io.err(`submit failed (${(err as Error).message}); retrying with the same Idempotency-Key`);
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
}

/** Seconds the sweep has taken: to its end once it has ended (the clock stops), else until now. */
function elapsedOf(s: SweepDetail): number {
  return ((s.endedAt ? Date.parse(s.endedAt) : Date.now()) - Date.parse(s.createdAt)) / 1000;
}

/** Follows a sweep to its end (progress on stderr), then prints the answer; the exit code says how it ended. */
async function followSweep(id: string, client: Client, io: Io): Promise<number> {
  let last = '';
  const final: SweepDetail = await client.follow(id, (s) => {
    const line = progressLine(s, elapsedOf(s));
    if (io.isTty) io.err(`\r${line}`);
    else if (line.split(' · ')[0] !== last.split(' · ')[0]) io.err(line);
    last = line;
  });
  const end = progressLine(final, elapsedOf(final));
  if (io.isTty) io.err(`\r${end}\n`);
  else if (end !== last) io.err(end);
  io.out(`sweep ${final.id} ${final.status}`);
  for (const l of failureLines(final.failures)) io.out(l);
  if (final.counts.completed > 0) await printAnswer(id, client, io, {});
  if (final.status === 'cancelled') return exitCodes.cancelled;
  return final.status === 'failed' || final.counts.failed > 0 ? exitCodes.trialsFailed : exitCodes.ok;
}

/** The ranking, then the verdict: each schedule at its own best LR against the winner. */
async function printAnswer(
  id: string,
  client: Client,
  io: Io,
  q: { metric?: never; aggregate?: never; rankBy?: never },
) {
  const [r, a] = await Promise.all([
    client.results(id, q),
    client.schedules(id, { metric: q.metric, aggregate: q.aggregate }),
  ]);
  io.out(
    `${r.provisional ? '(provisional: the sweep is still running)\n' : ''}${rankingTable(r.ranking, r.objective.metric)}`,
  );
  if (r.pruned?.length) io.out(`\nStopped early by ASHA (not ranked):\n${prunedTable(r.pruned)}`);
  io.out('');
  io.out(verdictTable(a));
}

/** A full sweep id from any unambiguous prefix of one (the newest 1 000 sweeps are searched). */
export async function resolveSweepId(client: Client, given: string): Promise<string> {
  const id = given.trim().toLowerCase();
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return id;
  if (!/^[0-9a-f-]{1,36}$/.test(id)) throw new UsageError(`'${given}' is not a sweep id or a prefix of one`);
  const matches: { id: string; name: string }[] = [];
  for (let offset = 0; offset < 1000; offset += 200) {
    const page = await client.listSweeps({ limit: 200, offset });
    matches.push(...page.sweeps.filter((s) => s.id.startsWith(id)));
    if (page.sweeps.length < 200) break;
  }
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length === 0)
    throw new ApiRequestError(404, { code: 'SWEEP_NOT_FOUND', message: `no sweep id starts with '${given}'` });
  throw new UsageError(
    `'${given}' names ${matches.length} sweeps: ${matches
      .slice(0, 5)
      .map((m) => `${m.id} (${m.name})`)
      .join(', ')}${matches.length > 5 ? ', …' : ''}`,
  );
}

async function tokens(args: string[], o: Opts, client: Client, io: Io): Promise<number> {
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
