// `node lrsweep.mjs proof`: the fleet proof that scripts/gpu-fleet-proof.sh runs from an unpacked
// bundle. It starts lrsweep (no built-in workers), submits a small sweep to pool `proof`, runs it
// with the PyTorch example agent (examples/pytorch/train.py, on CUDA when the machine has it),
// kills one agent with SIGKILL once a checkpoint is recorded and starts another in its place, and
// then checks from the database what exactly-once promises: every trial completed once, every
// update row there once (no gap, no duplicate, no step from two attempts), every applied LR the
// schedule's. It prints the device, the throughput and that summary; exit 1 when a check fails.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { lrSequence, type ScheduleSpec } from '@lrsweep/schedules';
import pg from 'pg';
import { freePort } from '@lrsweep/testkit/free-port';
import { bundleRoot, options, type Up, UpError, up } from './stack';

const say = (s: string) => process.stdout.write(`${s}\n`);

interface Torch {
  python: string;
  device: 'cuda' | 'cpu';
  deviceName: string;
  version: string;
}
type Killed = { trial: string; step: number } | null;

export async function proof(args: string[]): Promise<number> {
  const o = options(args, { agents: 'int', device: 'string', python: 'string', steps: 'int', data: 'string' });
  const agents = Math.max(2, Number(o.agents ?? 2));
  const steps = Math.max(200, Number(o.steps ?? 600));
  const torch = probeTorch(String(o.python ?? process.env.PYTHON ?? 'python3'), String(o.device ?? 'auto'));
  const dataDir = String(o.data ?? join(bundleRoot, 'proof-data'));
  spawnSync('rm', ['-rf', dataDir]);
  say(`lrsweep fleet proof: ${agents} PyTorch agents on ${torch.device} (${torch.deviceName}, torch ${torch.version})`);
  const stack = await up({
    dataDir,
    workers: 0,
    port: Number(process.env.PORT ?? 0) || (await freePort()),
    host: '127.0.0.1',
    // Short agent leases: the killed agent's trial goes back to the queue within seconds.
    apiEnv: { AGENT_LEASE_MS: '5000', RECONCILE_INTERVAL_MS: '1000' },
  });
  const fleet = agentFleet(torch, stack, join(dataDir, 'agent-checkpoints'), steps);
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  try {
    const { sweepId, trialCount } = await submit(stack, steps);
    fleet.start(agents, await agentToken(stack));
    await db.connect();
    const killed = await runToTheEnd(db, sweepId, trialCount, fleet);
    return await summary(db, sweepId, steps, { ...torch, agents, killed });
  } finally {
    fleet.killAll();
    await db.end().catch(() => {});
    await stack.stop();
  }
}

/** The Python's PyTorch and the device it trains on (`auto`: CUDA when PyTorch sees a GPU). */
function probeTorch(python: string, wanted: string): Torch {
  if (!['auto', 'cuda', 'cpu'].includes(wanted))
    throw new UpError(`✗ --device must be auto, cuda or cpu (got '${wanted}')`);
  const code =
    'import torch; c = torch.cuda.is_available(); print("cuda" if c else "cpu"); ' +
    'print(torch.cuda.get_device_name(0) if c else "CPU"); print(torch.__version__)';
  const probe = spawnSync(python, ['-c', code], { encoding: 'utf8' });
  if (probe.status !== 0)
    throw new UpError(
      `✗ ${python} cannot import torch (${probe.stderr.trim().split('\n').pop()}); run with PYTHON=<a Python that has PyTorch>`,
    );
  const [seen, deviceName = 'CPU', version = '?'] = probe.stdout.trim().split('\n');
  if (wanted === 'cuda' && seen !== 'cuda') throw new UpError('✗ --device cuda: PyTorch sees no CUDA device here');
  return {
    python,
    device: wanted === 'auto' ? (seen as 'cuda' | 'cpu') : (wanted as 'cuda' | 'cpu'),
    deviceName,
    version,
  };
}

async function post(stack: Up, path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`${stack.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const j = (await r.json()) as Record<string, unknown>;
  if (!r.ok) throw new UpError(`✗ POST ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

const agentToken = async (stack: Up) =>
  String(
    (await post(stack, '/v1/admin/tokens', { projectId: 'default', name: 'proof', role: 'agent', pools: ['proof'] }))
      .token,
  );

/** 2 base LRs × constant and cosine-with-warmup × 2 seeds, for the example agent of pool `proof`. */
async function submit(stack: Up, steps: number) {
  const sweep = await post(stack, '/v1/sweeps', {
    name: 'fleet-proof',
    runner: { kind: 'external', pool: 'proof', config: { width: 256, batch_size: 256 } },
    training: { totalSteps: steps, evalEvery: Math.floor(steps / 4) },
    grid: {
      baseLr: [0.001, 0.003],
      schedule: [{ kind: 'constant' }, { kind: 'cosine', warmup: { steps: Math.round(steps / 10) } }],
      seeds: 2,
    },
  });
  say(`• sweep ${sweep.id}: ${sweep.trialCount} trials × ${steps} updates, pool 'proof'`);
  return { sweepId: String(sweep.id), trialCount: Number(sweep.trialCount) };
}

/** The example agents: started, one killed and replaced, all killed at the end. */
function agentFleet(torch: Torch, stack: Up, checkpointDir: string, steps: number) {
  const procs: ChildProcess[] = [];
  let token = '';
  const wheel = readdirSync(join(bundleRoot, 'python')).find((f) => f.endsWith('.whl'));
  if (!wheel) throw new UpError(`✗ no lrsweep wheel in ${join(bundleRoot, 'python')}`);
  mkdirSync(checkpointDir, { recursive: true });
  const startOne = () => {
    const i = procs.length + 1;
    const p = spawn(torch.python, [join(bundleRoot, 'examples', 'pytorch', 'train.py')], {
      env: {
        ...process.env,
        // A pure-Python wheel imports from the archive itself: nothing is installed.
        PYTHONPATH: join(bundleRoot, 'python', wheel),
        LRSWEEP_API_URL: stack.url,
        LRSWEEP_TOKEN: token,
        LRSWEEP_POOL: 'proof',
        TORCH_DEVICE: torch.device,
        CHECKPOINT_DIR: checkpointDir,
        CHECKPOINT_EVERY: String(Math.floor(steps / 6)),
        IDLE_TIMEOUT: '5',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    p.once('exit', (code, sig) => {
      if (code && !sig) say(`! agent ${i} exited with code ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
    });
    procs.push(p);
  };
  return {
    start(n: number, agentToken: string) {
      token = agentToken;
      for (let i = 0; i < n; i++) startOne();
    },
    /** Kills the agent whose name (the SDK's host-pid) is `name`; its number, or null if not ours. */
    killAndReplace(name: string): number | null {
      const i = procs.findIndex((p) => name.endsWith(`-${p.pid}`) && p.exitCode === null);
      if (i < 0) return null;
      procs[i]!.kill('SIGKILL');
      startOne();
      return i + 1;
    },
    allExited: () => procs.every((p) => p.exitCode !== null || p.signalCode !== null),
    count: () => procs.length,
    killAll: () => {
      for (const p of procs) p.kill('SIGKILL');
    },
  };
}

/** Waits for every trial to end, killing one agent mid-trial once its trial has a checkpoint. */
async function runToTheEnd(
  db: pg.Client,
  sweepId: string,
  trialCount: number,
  fleet: ReturnType<typeof agentFleet>,
): Promise<Killed> {
  const t0 = Date.now();
  let killed: Killed = null;
  let lastLine = '';
  let lastSaid = 0;
  for (;;) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM trials WHERE sweep_id = $1 AND status NOT IN ('queued', 'running')`,
      [sweepId],
    );
    const done = rows[0]!.n;
    killed ??= await killOne(db, sweepId, fleet);
    // A line when a trial ends, and every 15 s while none does.
    const line = `• ${done}/${trialCount} trials ended`;
    if (line !== lastLine || Date.now() - lastSaid > 15_000) {
      say(`${line} (${Math.round((Date.now() - t0) / 1000)} s)`);
      lastSaid = Date.now();
    }
    lastLine = line;
    if (done === trialCount) return killed;
    if (Date.now() - t0 > 20 * 60_000) throw new UpError('✗ the sweep did not end within 20 minutes');
    if (fleet.allExited()) throw new UpError('✗ every agent has exited and trials are left: see the lines above');
    // Quick polls until the kill (a trial is short), then one a second.
    await new Promise((r) => setTimeout(r, killed ? 1000 : 100));
  }
}

/** SIGKILLs the agent of a running trial that has a checkpoint, and starts another; null if none yet. */
async function killOne(db: pg.Client, sweepId: string, fleet: ReturnType<typeof agentFleet>): Promise<Killed> {
  const { rows } = await db.query<{ trial: string; name: string; step: number }>(
    `SELECT t.id AS trial, w.name, t.checkpoint_step AS step FROM trials t
       JOIN trial_attempts a ON a.trial_id = t.id AND a.attempt = t.attempt AND a.ended_at IS NULL
       JOIN workers w ON w.id = a.agent_id
      WHERE t.sweep_id = $1 AND t.status = 'running' AND t.checkpoint_step IS NOT NULL`,
    [sweepId],
  );
  for (const v of rows) {
    const agent = fleet.killAndReplace(v.name);
    if (agent === null) continue;
    say(
      `• agent ${agent} killed with SIGKILL mid-trial (trial ${v.trial}, checkpointed at update ${v.step}); agent ${fleet.count()} started in its place`,
    );
    return { trial: v.trial, step: v.step };
  }
  return null;
}

/** What the database holds, checked against what exactly-once promises. */
async function summary(
  db: pg.Client,
  sweepId: string,
  steps: number,
  run: { device: string; deviceName: string; agents: number; killed: Killed },
): Promise<number> {
  const trials = (
    await db.query<{ id: string; status: string; config: { baseLr: number; schedule: ScheduleSpec } }>(
      'SELECT id, status, config FROM trials WHERE sweep_id = $1',
      [sweepId],
    )
  ).rows;
  const attempts = (
    await db.query<{
      trial_id: string;
      attempt: number;
      outcome: string | null;
      started_at: Date;
      ended_at: Date | null;
    }>(
      'SELECT a.trial_id, a.attempt, a.outcome, a.started_at, a.ended_at FROM trial_attempts a JOIN trials t ON t.id = a.trial_id WHERE t.sweep_id = $1',
      [sweepId],
    )
  ).rows;
  const failures: string[] = [];
  let rows = 0;
  let rateChecks = 0;
  let resumed = 0;
  let resumedAt = -1;
  for (const t of trials) {
    if (t.status !== 'completed') failures.push(`trial ${t.id} ended ${t.status}`);
    const completions = attempts.filter((a) => a.trial_id === t.id && a.outcome === 'completed').length;
    if (completions !== 1) failures.push(`trial ${t.id} completed ${completions} times`);
    const u = (
      await db.query<{ step: number; lr: number; attempt: number }>(
        'SELECT step, lr, attempt FROM update_metrics WHERE trial_id = $1 ORDER BY step, attempt',
        [t.id],
      )
    ).rows;
    rows += u.length;
    const distinct = new Set(u.map((r) => r.step)).size;
    if (distinct !== u.length) failures.push(`trial ${t.id}: ${u.length - distinct} steps written twice`);
    if (distinct !== steps || u[0]?.step !== 0 || u.at(-1)?.step !== steps - 1)
      failures.push(`trial ${t.id}: ${distinct} of ${steps} updates stored (a gap)`);
    // Rows from two attempts may not interleave: each attempt's rows follow the one before's.
    if (u.some((r, i) => i > 0 && r.attempt < u[i - 1]!.attempt))
      failures.push(`trial ${t.id}: an earlier attempt's row follows a later one's`);
    if (new Set(u.map((r) => r.attempt)).size > 1) resumed++;
    const want = lrSequence(t.config.schedule, { baseLr: t.config.baseLr, totalSteps: steps });
    for (const r of u) {
      rateChecks++;
      if (Math.abs(r.lr - want[r.step]!) > 1e-12 * Math.max(1, Math.abs(want[r.step]!)))
        failures.push(`trial ${t.id} step ${r.step}: rate ${r.lr} ≠ the schedule's ${want[r.step]}`);
    }
  }
  // The killed trial went on from its checkpoint, not from update 0.
  if (!run.killed) failures.push('no agent was killed: no running trial had a checkpoint to resume from');
  else {
    const first = (
      await db.query<{ step: number }>(
        'SELECT min(step)::int AS step FROM update_metrics WHERE trial_id = $1 AND attempt > 1',
        [run.killed.trial],
      )
    ).rows[0]?.step;
    if (first == null || first === 0) failures.push(`the killed trial ${run.killed.trial} started again from update 0`);
    else resumedAt = first;
  }
  const starts = attempts.map((a) => a.started_at.getTime());
  const ends = attempts.map((a) => a.ended_at?.getTime() ?? 0);
  const wall = (Math.max(...ends) - Math.min(...starts)) / 1000;
  say('');
  say(`device       ${run.device} (${run.deviceName})`);
  say(
    `agents       ${run.agents}${run.killed ? ` + 1 (one killed with SIGKILL mid-trial; its trial resumed at update ${resumedAt}, after its checkpoint at ${run.killed.step})` : ''}`,
  );
  say(
    `trials       ${trials.filter((t) => t.status === 'completed').length}/${trials.length} completed, ${attempts.length} attempts, ${resumed} resumed from a checkpoint`,
  );
  say(`updates      ${rows} rows for ${trials.length} × ${steps} updates`);
  say(`rates        ${rateChecks} applied LRs checked against the schedule (relative 1e-12)`);
  say(
    `throughput   ${(rows / wall).toFixed(1)} updates/s over ${wall.toFixed(1)} s (${(rows / wall / run.agents).toFixed(1)} per agent)`,
  );
  if (failures.length) {
    say(`exactly-once FAILED (${failures.length}):`);
    for (const f of failures.slice(0, 20)) say(`  ✗ ${f}`);
    return 1;
  }
  say('exactly-once PASSED: every trial completed once; no gap, no duplicate, no step from two attempts');
  return 0;
}
