import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { ApiRequestError } from '@lrsweep/client';
import { sweepSpecSchema } from '@lrsweep/contract';
import { describeSchedule, toSpecIssues } from '@lrsweep/schedules';
import { ashaPlanOf, expandSweep, planForks, planTrials } from '@lrsweep/sweep';
import { parse as parseYaml } from 'yaml';
import { type Client, exitCodes, type Io } from './cli-context';
import { type Opts, UsageError } from './options';
import { ashaLine, forkLine } from './render';
import { followSweep, resolveSweepId } from './sweep-answers';
import { formatTable } from './table';

/** Reads a spec file (JSON or YAML by extension). */
function readSpec(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  return ['.yaml', '.yml'].includes(extname(path).toLowerCase()) ? parseYaml(text) : JSON.parse(text);
}

/** `lrsweep submit <spec>`: checked here as the API would, then sent (or, with --dry-run, planned). */
export async function submit(file: string, o: Opts, client: Client, io: Io): Promise<number> {
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
