import { ApiRequestError, type SweepDetail } from '@lrsweep/client';
import { type Client, type Ctx, exitCodes, type Io, need } from './cli-context';
import { UsageError } from './options';
import { failureLines, progressLine, prunedTable, rankingTable, verdictTable } from './render';

/** Seconds the sweep has taken: to its end once it has ended (the clock stops), else until now. */
export function elapsedOf(s: SweepDetail): number {
  return ((s.endedAt ? Date.parse(s.endedAt) : Date.now()) - Date.parse(s.createdAt)) / 1000;
}

/** Follows a sweep to its end (progress on stderr), then prints the answer; the exit code says how it ended. */
export async function followSweep(id: string, client: Client, io: Io): Promise<number> {
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
export async function printAnswer(
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

/** The full id of the sweep the command's first argument names (any unambiguous prefix). */
export const sweepIdOf = (c: Ctx) => resolveSweepId(c.client, need(c, 'a sweep id'));
