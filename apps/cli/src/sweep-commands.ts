// The commands about sweeps, one function each: what they read from the command line, what they
// ask the API, what they print. Their exit codes come from cli-context.ts.
import { randomUUID } from 'node:crypto';
import { type Ctx, exitCodes } from './cli-context';
import { runExport } from './export';
import { apiBase, positive, UsageError } from './options';
import { failureLines, forkLine, progressLine, rangeTestLines, sweepTable, transferLines } from './render';
import { elapsedOf, followSweep, printAnswer, resolveSweepId, sweepIdOf } from './sweep-answers';

/** `lrsweep list [--limit n]`: the newest sweeps. */
export async function listCommand({ o, client, io }: Ctx): Promise<number> {
  const limit = o.limit ? Number(o.limit) : 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500)
    throw new UsageError('--limit must be an integer from 1 to 500');
  const page = await client.listSweeps({ limit });
  io.out(page.sweeps.length ? sweepTable(page.sweeps) : 'no sweeps yet: lrsweep submit <spec>');
  if (page.total > page.sweeps.length) io.out(`(${page.sweeps.length} newest of ${page.total}; --limit for more)`);
  return exitCodes.ok;
}

/** `lrsweep status <sweep>`: its state, progress, forks, numerics key, why trials wait or failed. */
export async function statusCommand(c: Ctx): Promise<number> {
  const s = await c.client.getSweep(await sweepIdOf(c));
  c.io.out(`${s.name} (${s.id}): ${s.status}\n${progressLine(s, elapsedOf(s))}`);
  if (s.forks) c.io.out(forkLine(s.forks));
  if (s.numerics) c.io.out(`trains under ${s.numerics.id}`);
  if (s.unrunnable) c.io.out(`waiting: ${s.unrunnable}`);
  for (const l of failureLines(s.failures)) c.io.out(l);
  return exitCodes.ok;
}

/** `lrsweep follow <sweep>`: progress until it ends, then the answer. */
export async function followCommand(c: Ctx): Promise<number> {
  return followSweep(await sweepIdOf(c), c.client, c.io);
}

/** `lrsweep range-test <sweep> [--json]`: the range test's suggested base-LR range. */
export async function rangeTestCommand(c: Ctx): Promise<number> {
  const r = await c.client.rangeTest(await sweepIdOf(c));
  c.io.out(c.o.json ? JSON.stringify(r, null, 2) : rangeTestLines(r).join('\n'));
  return exitCodes.ok;
}

/** `lrsweep transfer <sweep> [--target-width w] [--target-steps T]`: η* across scale, carried to a target. */
export async function transferCommand(c: Ctx): Promise<number> {
  const { o } = c;
  const q = {
    ...(o['target-width'] !== undefined
      ? { targetWidth: positive(o['target-width'] as string, '--target-width') }
      : {}),
    ...(o['target-steps'] !== undefined
      ? { targetSteps: positive(o['target-steps'] as string, '--target-steps') }
      : {}),
  };
  const t = await c.client.transfer(await sweepIdOf(c), q);
  c.io.out(o.json ? JSON.stringify(t, null, 2) : transferLines(t).join('\n'));
  return exitCodes.ok;
}

/** `lrsweep export tensorboard <sweep> --out <dir>` (the Python exporter does the writing). */
export async function exportCommand({ args, o, client, io, token }: Ctx): Promise<number> {
  const [target, id] = args;
  if (target !== 'tensorboard')
    throw new UsageError('export writes tensorboard: lrsweep export tensorboard <sweep-id> --out <dir>');
  if (!id) throw new UsageError('export tensorboard needs a sweep id');
  if (!o.out) throw new UsageError('export tensorboard needs --out <dir> (the log directory)');
  const full = await resolveSweepId(client, id);
  return runExport({ target, sweepId: full, out: o.out as string, api: apiBase(o, io.env), token }, io);
}

/** `lrsweep results <sweep> [--json | --csv] [--metric …] [--aggregate …] [--rank-by …]`. */
export async function resultsCommand(c: Ctx): Promise<number> {
  const { o, client, io } = c;
  const id = await sweepIdOf(c);
  const q = { metric: o.metric as never, aggregate: o.aggregate as never, rankBy: o['rank-by'] as never };
  if (o.csv) io.out((await client.resultsCsv(id, q)).trimEnd());
  else if (o.json) io.out(JSON.stringify(await client.results(id, q), null, 2));
  else await printAnswer(id, client, io, { metric: q.metric, aggregate: q.aggregate, rankBy: q.rankBy });
  return exitCodes.ok;
}

/** `lrsweep cancel <sweep>`. */
export async function cancelCommand(c: Ctx): Promise<number> {
  const r = await c.client.cancelSweep(await sweepIdOf(c));
  c.io.out(`cancelled ${r.cancelledTrials} trials; sweep ${r.sweep.id} is ${r.sweep.status}`);
  return exitCodes.ok;
}

/** `lrsweep retry <sweep>`: its failed trials again. */
export async function retryCommand(c: Ctx): Promise<number> {
  const r = await c.client.retrySweep(await sweepIdOf(c));
  c.io.out(`re-queued ${r.retriedTrials} failed trials; sweep ${r.sweep.id} is ${r.sweep.status}`);
  return exitCodes.ok;
}

/** `lrsweep extend <sweep> [--seeds n] [--lr a,b,…]`: more seeds or base LRs. */
export async function extendCommand(c: Ctx): Promise<number> {
  const { o } = c;
  const id = await sweepIdOf(c);
  const body: { seeds?: number; baseLr?: number[] } = {};
  if (o.seeds !== undefined) body.seeds = Number(o.seeds);
  if (o.lr !== undefined) body.baseLr = (o.lr as string).split(',').map((x) => Number(x.trim()));
  if (!Object.keys(body).length) throw new UsageError('extend needs --seeds or --lr');
  const r = await c.client.extendSweep(id, body as never, { idempotencyKey: randomUUID() });
  c.io.out(
    `added ${r.addedTrials} trials; sweep ${r.id} now has ${r.trialCount}${r.delivery === 'pending' ? ' (delivery pending)' : ''}`,
  );
  return exitCodes.ok;
}

/** `lrsweep delete <sweep> [--yes]`: asks first on a terminal; without one, only with --yes. */
export async function deleteCommand(c: Ctx): Promise<number> {
  const { o, client, io } = c;
  const s = await client.getSweep(await sweepIdOf(c));
  if (!o.yes) {
    const answer = io.ask
      ? await io.ask(`delete sweep '${s.name}' (${s.id}): ${s.counts.total} trials and all their metrics? type yes: `)
      : null;
    if (answer === null) throw new UsageError('delete asks for confirmation: answer on a terminal, or pass --yes');
    if (answer.trim().toLowerCase() !== 'yes') {
      io.err('not deleted');
      return exitCodes.invalid;
    }
  }
  const r = await client.deleteSweep(s.id);
  io.out(`deleted sweep ${r.id}: ${r.trials} trials and their metrics`);
  return exitCodes.ok;
}
