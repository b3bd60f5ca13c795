// `lrsweep slurm up | status | down`: agent jobs on a Slurm cluster, as many as a pool's ready
// backlog asks for and never more than --max-jobs. The jobs come from the user's own sbatch
// template (GPUs, partition, account and time limit are theirs); the scaler only adds array
// tasks, cancels pending ones nobody needs, and lets idle agents leave on their own (their
// IDLE_TIMEOUT). It never kills a running job: `down` sends the agents SIGTERM, which checkpoint
// and release their trials. One scaler per project and pool: a lease held through the API.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import type { LrsweepClient } from '@lrsweep/client';
import { apiBase, type Opts, positive, UsageError } from './options';
import { formatTable } from './table';

export interface SlurmIo {
  out(s: string): void;
  err(s: string): void;
  env: NodeJS.ProcessEnv;
}

/** A command's output, or an error saying which command failed and what it printed. */
function slurm(cmd: string, args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8' });
  if (r.error)
    throw new Error(
      `${cmd} could not be run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): is this a Slurm login node (SLURM_CONF)?`,
    );
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** The job name every agent job of a pool carries: how the scaler finds its own jobs. */
export const jobNameOf = (pool: string) => `lrsweep-${pool}`;

export interface AgentJob {
  /** As squeue shows it: `123` or, for an array task, `120_3`. */
  id: string;
  state: string;
}

/** The pool's agent jobs (array tasks one per row), pending and running. */
export function agentJobs(pool: string, env: NodeJS.ProcessEnv): AgentJob[] {
  return slurm('squeue', ['-h', '-r', `--name=${jobNameOf(pool)}`, '-o', '%i|%T'], env)
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, state] = l.split('|');
      return { id: id!.trim(), state: state!.trim() };
    });
}

const pendingStates = new Set(['PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'CONFIGURING']);

export interface ScalerOptions {
  pool: string;
  template: string;
  maxJobs: number;
  once: boolean;
  intervalMs: number;
  holder: string;
  /** The API as the agents reach it (LRSWEEP_API_URL in their jobs). */
  api: string;
  token: string | undefined;
  /** Seconds an idle agent waits for a trial before its job ends (IDLE_TIMEOUT in the job). */
  idleTimeout: number;
}

/** What one look at the backlog and the queue decided. */
export interface ScalerTick {
  ready: number;
  running: number;
  jobsRunning: number;
  jobsPending: number;
  submitted: number;
  cancelled: number;
}

/**
 * How many array tasks to add: the ready trials that no pending job and no idle running agent
 * will take (a running job without a running trial is an agent between trials), within maxJobs.
 */
export function jobsToSubmit(
  s: { ready: number; running: number; jobsRunning: number; jobsPending: number },
  maxJobs: number,
) {
  const idle = Math.max(0, s.jobsRunning - s.running);
  const uncovered = s.ready - s.jobsPending - idle;
  return Math.max(0, Math.min(maxJobs - s.jobsRunning - s.jobsPending, uncovered));
}

export function defaultHolder() {
  return `${hostname().replace(/[^A-Za-z0-9._:@-]/g, '-')}:${process.pid}`;
}

/** One round: read the backlog and the queue, submit or cancel. */
export async function scaleOnce(client: LrsweepClient, o: ScalerOptions, io: SlurmIo): Promise<ScalerTick> {
  const b = await client.poolBacklog(o.pool, { runner: 'external' });
  const jobs = agentJobs(o.pool, io.env);
  const jobsPending = jobs.filter((j) => pendingStates.has(j.state)).length;
  const jobsRunning = jobs.length - jobsPending;
  const state = { ready: b.ready, running: b.running, jobsRunning, jobsPending };
  let submitted = 0;
  let cancelled = 0;
  const k = jobsToSubmit(state, o.maxJobs);
  if (k > 0) {
    const env = {
      ...io.env,
      LRSWEEP_POOL: o.pool,
      LRSWEEP_API_URL: o.api,
      IDLE_TIMEOUT: String(o.idleTimeout),
      ...(o.token ? { LRSWEEP_TOKEN: o.token } : {}),
    };
    slurm(
      'sbatch',
      ['--parsable', `--job-name=${jobNameOf(o.pool)}`, `--array=0-${k - 1}`, '--export=ALL', o.template],
      env,
    );
    submitted = k;
  } else if (b.ready < jobsPending) {
    // Pending jobs nobody needs (the backlog shrank before they started): cancel them; a
    // running job is never cancelled here (its agent leaves when idle).
    const extra = jobs.filter((j) => pendingStates.has(j.state)).slice(b.ready);
    if (extra.length)
      slurm(
        'scancel',
        extra.map((j) => j.id),
        io.env,
      );
    cancelled = extra.length;
  }
  return { ...state, submitted, cancelled };
}

/** `lrsweep slurm up`: scales until stopped (SIGINT/SIGTERM), or once with --once. */
export async function scaleUp(client: LrsweepClient, o: ScalerOptions, io: SlurmIo): Promise<number> {
  if (!existsSync(o.template)) {
    io.err(`--template ${o.template}: no such file (an sbatch script that runs your agent; see examples/slurm/)`);
    return 2;
  }
  const ttlMs = Math.min(600_000, Math.max(10_000, 3 * o.intervalMs));
  let stopping = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopping = true;
    wake?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let last = '';
  let waitingSaid = '';
  try {
    while (!stopping) {
      const lease = await client.scalerLease(o.pool, { holder: o.holder, ttlMs });
      if (!lease.granted) {
        const said = `pool ${o.pool}: another scaler (${lease.holder}) holds it until ${lease.expiresAt}; this one submits nothing`;
        if (said !== waitingSaid) io.out(said);
        waitingSaid = said;
      } else {
        const t = await scaleOnce(client, o, io);
        const line = `pool ${o.pool}: ${t.ready} ready, ${t.running} running · jobs ${t.jobsRunning} running, ${t.jobsPending} pending${t.submitted ? ` → submitted ${t.submitted}` : ''}${t.cancelled ? ` → cancelled ${t.cancelled} pending` : ''}`;
        if (line !== last) io.out(line);
        last = line;
      }
      if (o.once) break;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, o.intervalMs);
      });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await client.releaseScaler(o.pool, o.holder).catch(() => undefined);
  }
  return 0;
}

/** `lrsweep slurm status`: each agent job, its agent and the trial it runs. */
export async function slurmStatus(client: LrsweepClient, pool: string, io: SlurmIo): Promise<number> {
  const jobs = agentJobs(pool, io.env);
  const { agents } = await client.listAgents();
  const byJob = new Map<string, (typeof agents)[number]>();
  for (const a of agents) {
    if (a.pool !== pool || !a.labels.slurm_job_id) continue;
    const arrayId =
      a.labels.slurm_array_job_id && a.labels.slurm_array_task_id
        ? `${a.labels.slurm_array_job_id}_${a.labels.slurm_array_task_id}`
        : undefined;
    // The newest registration of a job wins (a requeued job registers again).
    for (const key of [a.labels.slurm_job_id, arrayId]) if (key && !byJob.has(key)) byJob.set(key, a);
  }
  const b = await client.poolBacklog(pool, { runner: 'external' });
  io.out(`pool ${pool}: ${b.ready} ready, ${b.running} running · ${jobs.length} agent jobs`);
  if (jobs.length)
    io.out(
      formatTable(
        ['job', 'state', 'agent', 'alive', 'trial'],
        jobs.map((j) => {
          const a = byJob.get(j.id);
          return [j.id, j.state, a?.name ?? '–', a ? (a.alive ? 'yes' : 'no') : '–', a?.currentTrialId ?? '–'];
        }),
      ),
    );
  return 0;
}

/** `lrsweep slurm down`: cancels pending agent jobs and asks running agents to stop (SIGTERM). */
export function slurmDown(pool: string, io: SlurmIo): number {
  const jobs = agentJobs(pool, io.env);
  const pending = jobs.filter((j) => pendingStates.has(j.state));
  const running = jobs.filter((j) => !pendingStates.has(j.state));
  if (pending.length)
    slurm(
      'scancel',
      pending.map((j) => j.id),
      io.env,
    );
  // To the batch script's process (the agent, exec'd): it checkpoints, releases its trial, exits.
  if (running.length) slurm('scancel', ['--batch', '--signal=TERM', ...running.map((j) => j.id)], io.env);
  io.out(
    `pool ${pool}: cancelled ${pending.length} pending jobs; asked ${running.length} running agents to release their trials and stop`,
  );
  return 0;
}

/** `lrsweep slurm up | status | down`, from the command line's options. */
export async function slurmCommand(
  sub: string | undefined,
  o: Opts,
  client: LrsweepClient,
  token: string | undefined,
  io: SlurmIo,
): Promise<number> {
  const pool = o.pool as string | undefined;
  if (!pool) throw new UsageError(`slurm ${sub ?? ''} needs --pool <pool>`.replace('  ', ' '));
  switch (sub) {
    case 'up': {
      if (!o.template) throw new UsageError('slurm up needs --template <agent.sbatch> (examples/slurm/agent.sbatch)');
      if (!o['max-jobs']) throw new UsageError('slurm up needs --max-jobs <n> (the most agent jobs at once)');
      const maxJobs = positive(o['max-jobs'] as string, '--max-jobs');
      if (!Number.isInteger(maxJobs) || maxJobs > 10_000)
        throw new UsageError('--max-jobs must be an integer from 1 to 10000');
      return scaleUp(
        client,
        {
          pool,
          template: o.template as string,
          maxJobs,
          once: Boolean(o.once),
          intervalMs: 1000 * (o.interval ? positive(o.interval as string, '--interval') : 10),
          idleTimeout: o['idle-timeout'] ? positive(o['idle-timeout'] as string, '--idle-timeout') : 60,
          holder: (o.holder as string | undefined) ?? defaultHolder(),
          api: apiBase(o, io.env),
          token,
        },
        io,
      );
    }
    case 'status':
      return slurmStatus(client, pool, io);
    case 'down':
      return slurmDown(pool, io);
    default:
      throw new UsageError('slurm takes up, status or down');
  }
}
