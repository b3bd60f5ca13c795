// `lrsweep slurm up` on a real one-node Slurm cluster (Debian's slurm-wlm, scripts/slurm-cluster.sh):
// the scaler submits agent jobs from an sbatch template as a pool's backlog appears, never more
// than --max-jobs; mid-run one job's agent gets SIGTERM (scancel --batch) and another job is
// requeued (scontrol requeue); the sweep still completes with every trial once, no gap, no
// duplicate row; when the backlog is gone the jobs end and squeue empties; a second scaler on the
// same pool submits nothing. The agents are the Python SDK's (test/fixtures/agents/logreg.py).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventually, query, requirement, sdkPython, type Stack, startStack, trialSeries } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const tsx = createRequire(join(root, 'apps/cli/package.json')).resolve('tsx');
const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const present = ['sbatch', 'slurmctld', 'slurmd', 'munged'].every(has) && process.getuid?.() === 0;
const needed = requirement(
  'slurm',
  present,
  "Debian's slurm-wlm and munge, run as root: apt-get install slurm-wlm munge (.ci/run does it)",
);

const pool = 'slurm-cpu';
const T = 60;

describe.skipIf(needed.skip)('lrsweep slurm up on a one-node Slurm cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lrsweep-slurm-'));
  const env: NodeJS.ProcessEnv = { ...process.env, LRSWEEP_SLURM_DIR: join(dir, 'cluster') };
  let stack: Stack;
  let token = '';
  const scalers: ChildProcess[] = [];

  beforeAll(async () => {
    needed.assert();
    const up = spawnSync('bash', [join(root, 'scripts/slurm-cluster.sh'), 'start'], { env, encoding: 'utf8' });
    expect(up.status, up.stderr + up.stdout).toBe(0);
    env.SLURM_CONF = join(dir, 'cluster', 'slurm.conf');
    stack = await startStack('slurm', { workers: 0 });
    // The pool's own token: what the scaler and its agents run with.
    const minted = await stack.client.post('/v1/admin/tokens', {
      projectId: 'default',
      name: 'slurm',
      role: 'agent',
      pools: [pool],
    });
    expect(minted.status, JSON.stringify(minted.body)).toBe(201);
    token = minted.body.token;
  }, 120_000);
  afterAll(async () => {
    for (const s of scalers) s.kill('SIGKILL');
    if (env.SLURM_CONF) spawnSync('scancel', [`--name=lrsweep-${pool}`], { env });
    spawnSync('bash', [join(root, 'scripts/slurm-cluster.sh'), 'stop'], { env });
    await stack?.stop();
  });

  const squeue = () =>
    spawnSync('squeue', ['-h', '-r', `--name=lrsweep-${pool}`, '-o', '%i|%T'], { env, encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map((l) => ({ id: l.split('|')[0]!, state: l.split('|')[1]! }));
  const scaler = (args: string[]) => {
    const p = spawn(
      process.execPath,
      ['--import', tsx, join(root, 'apps/cli/src/main.ts'), 'slurm', 'up', '--pool', pool, ...args],
      {
        env: {
          ...env,
          LRSWEEP_API_URL: stack.api.url,
          LRSWEEP_TOKEN: token,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const lines: string[] = [];
    p.stdout!.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
    p.stderr!.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
    scalers.push(p);
    const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
    return { p, lines, exited };
  };

  it('scales agent jobs to the backlog, survives a SIGTERM and a requeue, and empties the queue at the end', async () => {
    // The user's template: the agent exec'd as the batch script (Slurm's signals reach it), TERM
    // 120 s before the time limit, requeue on preemption. LRSWEEP_POOL, LRSWEEP_API_URL and
    // IDLE_TIMEOUT come from the scaler.
    const template = join(dir, 'agent.sbatch');
    writeFileSync(
      template,
      [
        '#!/bin/bash',
        '#SBATCH --signal=B:TERM@120',
        '#SBATCH --requeue',
        `#SBATCH --output=${dir}/job-%A_%a.out`,
        `export LOGREG_POOL="$LRSWEEP_POOL" LOGREG_IDLE="$IDLE_TIMEOUT" LOGREG_CKPT_DIR=${dir}`,
        // 6 s a trial: the agents still hold trials once `slurm status` (a CLI start) has answered.
        'export LOGREG_STEP_SLEEP=0.1 LOGREG_CKPT_EVERY=10 LOGREG_NAME="slurm-$SLURM_JOB_ID"',
        // The SDK venv npm test makes (the installed wheel, as on a cluster).
        `exec ${sdkPython(11) ?? 'python3'} ${join(root, 'test/fixtures/agents/logreg.py')}`,
        '',
      ].join('\n'),
    );
    const created = await stack.client.post('/v1/sweeps', {
      name: 'slurm',
      runner: { kind: 'external', pool },
      training: { totalSteps: T, evalEvery: 20 },
      grid: { baseLr: [0.05, 0.1, 0.2], schedule: [{ kind: 'constant' }, { kind: 'cosine' }], seeds: 2 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const sweepId = created.body.id as string;

    const first = scaler(['--template', template, '--max-jobs', '3', '--interval', '1', '--idle-timeout', '3']);
    // Never more than --max-jobs at once, watched for the whole run.
    let most = 0;
    const watch = setInterval(() => {
      most = Math.max(most, squeue().length);
    }, 200);
    try {
      // A second scaler on the same pool finds the lease held and submits nothing.
      await eventually('the first scaler to submit', async () => first.lines.some((l) => /submitted/.test(l)));
      const second = scaler(['--template', template, '--max-jobs', '3', '--once']);
      expect(await second.exited).toBe(0);
      expect(second.lines.join('\n')).toMatch(/another scaler \(.+\) holds it until .+; this one submits nothing/);
      expect(second.lines.join('\n')).not.toMatch(/submitted/);

      // Two agents running trials (their labels name their jobs): SIGTERM one, requeue the other's job.
      const busy = await eventually(
        'two agent jobs running trials',
        async () => {
          const agents = (await stack.client.get('/v1/agents')).body.agents as {
            alive: boolean;
            currentTrialId: string | null;
            labels: Record<string, string>;
          }[];
          // Agents early in a running trial (fewer than T/2 updates stored): the signal lands mid-trial,
          // not in the moment between two trials, when there is nothing to hand on.
          const early = new Set(
            (
              await query<{ id: string }>(
                stack.db.url,
                `SELECT t.id FROM trials t WHERE t.sweep_id = $1 AND t.status = 'running'
                   AND (SELECT count(*) FROM update_metrics u WHERE u.trial_id = t.id) < $2`,
                [sweepId, T / 2],
              )
            ).map((r) => r.id),
          );
          const jobs = agents
            .filter((a) => a.alive && a.currentTrialId && early.has(a.currentTrialId) && a.labels.slurm_array_job_id)
            .map((a) => ({ id: `${a.labels.slurm_array_job_id}_${a.labels.slurm_array_task_id}` }));
          const running = new Set(
            squeue()
              .filter((j) => j.state === 'RUNNING')
              .map((j) => j.id),
          );
          const both = jobs.filter((j) => running.has(j.id));
          return both.length >= 2 ? both : null;
        },
        60_000,
        100,
      );
      // `slurm status` maps each job to its agent and the trial it runs.
      const status = spawnSync(
        process.execPath,
        ['--import', tsx, join(root, 'apps/cli/src/main.ts'), 'slurm', 'status', '--pool', pool],
        { env: { ...env, LRSWEEP_API_URL: stack.api.url, LRSWEEP_TOKEN: token }, encoding: 'utf8' },
      );
      expect(status.status, status.stderr).toBe(0);
      for (const j of busy)
        expect(status.stdout).toMatch(new RegExp(`${j.id}\\s+RUNNING\\s+slurm-\\d+\\s+yes\\s+[0-9a-f-]{36}`));
      const term = spawnSync('scancel', ['--batch', '--signal=TERM', busy[0]!.id], { env, encoding: 'utf8' });
      expect(term.status, term.stderr).toBe(0);
      const requeue = spawnSync('scontrol', ['requeue', busy[1]!.id], { env, encoding: 'utf8' });
      expect(requeue.status, requeue.stderr).toBe(0);

      const sweep = await stack.client.waitForSweep(sweepId, 180_000);
      expect(sweep.counts.completed).toBe(12);
      // The jobs end once the backlog is gone (idle agents leave after IDLE_TIMEOUT).
      await eventually('squeue to empty', async () => squeue().length === 0, 60_000, 250);
    } finally {
      clearInterval(watch);
    }
    console.log(`the scaler said (most jobs at once: ${most}):\n${first.lines.join('\n')}`);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(3);

    // Every trial once: completed, every update step exactly once (0 … T−1), evaluations at 20, 40, 60.
    const trials = await query<{ id: string; attempt: number }>(
      stack.db.url,
      'SELECT id, attempt FROM trials WHERE sweep_id = $1',
      [sweepId],
    );
    expect(trials).toHaveLength(12);
    for (const t of trials) {
      const s = await trialSeries(stack.db.url, t.id);
      expect(s.trial.status).toBe('completed');
      expect(s.updates.map((u) => u.step)).toEqual([...Array(T).keys()]);
      expect(s.evals.map((e) => e.step)).toEqual([20, 40, 60]);
    }
    // The interrupted agents' trials were handed on and finished by another attempt.
    const handedOn = await query<{ n: number }>(
      stack.db.url,
      "SELECT count(DISTINCT a.trial_id)::int AS n FROM trial_attempts a JOIN trials t ON t.id = a.trial_id WHERE t.sweep_id = $1 AND a.outcome = 'requeued'",
      [sweepId],
    );
    expect(handedOn[0]!.n).toBeGreaterThanOrEqual(1);
    expect(first.lines.some((l) => /submitted/.test(l))).toBe(true);
  }, 300_000);
});
