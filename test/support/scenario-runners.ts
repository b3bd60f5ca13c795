// The two runners of the scenario-table test (test/scenario-table.test.ts): a built-in worker and a
// Python agent (the PyTorch example under test/fixtures/agents/torch_scenarios.py), started and
// signalled the same way, and what a sweep left in Postgres, reduced to one comparable object.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type FaultStack, query, startAgentProcess, tinySpec } from '@lrsweep/testkit';

const root = resolve(import.meta.dirname, '../..');
export const torchPython = process.env.LRSWEEP_TORCH_PYTHON ?? join(root, '.venv-torch/bin/python');
export const haveTorch = existsSync(torchPython);

/** The horizon, evaluation cadence, checkpoint cadence and seed every case shares. */
export const T = 60;
export const EVERY = 20;
export const SEED = 7;

/** What a case asks of a sweep, whichever runner trains it. */
export interface SweepShape {
  grid?: Record<string, unknown>;
  /** ASHA's rungs (minBudget, reduction); the horizon is T. */
  asha?: { minBudget: number; reduction: number };
}

export interface RunnerProcess {
  pid: number;
  /** Resolves when the process has exited. */
  exited: Promise<unknown>;
  alive(): boolean;
  signal(s: NodeJS.Signals): void;
  lastLines(): string;
}

export interface Runner {
  name: 'worker' | 'python';
  sweep(name: string, shape: SweepShape): Record<string, unknown>;
  start(env?: Record<string, string>): Promise<RunnerProcess>;
}

let started = 0;

/** A built-in worker on the stack's queue: it trains the tiny MNIST MLP. */
export function workerRunner(stack: FaultStack): Runner {
  return {
    name: 'worker',
    sweep(name, shape) {
      const { horizon, ...grid } = shape.grid ?? {};
      // The built-in trainer's horizon is in epochs: 200 training digits (20 more are held out for
      // validation) in batches of 20, 6 epochs = T updates.
      return tinySpec({
        name,
        dataset: { trainSize: 220, validationSize: 20 },
        training: { epochs: T / 10, evalEvery: EVERY, batchSize: 20 },
        grid: { seeds: [SEED], ...grid, ...(horizon ? { horizon } : {}) },
        ...(shape.asha ? { search: { kind: 'asha', ...shape.asha } } : {}),
      });
    },
    async start(env = {}) {
      const w = await stack.worker(`scenario-worker-${++started}`, env);
      return {
        pid: w.proc.pid!,
        exited: new Promise((r) => (w.proc.exitCode !== null ? r(null) : w.proc.once('exit', r))),
        alive: () => w.proc.exitCode === null && w.proc.signalCode === null,
        signal: (s) => w.proc.kill(s),
        lastLines: () =>
          w.lines
            .slice(-8)
            .map((l) => JSON.stringify(l))
            .join('\n'),
      };
    },
  };
}

/** A Python agent running the PyTorch example, on pool `pool` with `token`. */
export function pythonRunner(stack: () => { apiUrl: string; token: string; ckpt: string }, pool: string): Runner {
  return {
    name: 'python',
    sweep(name, shape) {
      const { horizon, ...grid } = shape.grid ?? {};
      return {
        name,
        runner: { kind: 'external', pool, config: { width: 16, batch_size: 20 } },
        // An external sweep's length comes from its horizon axis, or ASHA's maxBudget, when either is given.
        training: { evalEvery: EVERY, ...(horizon || shape.asha ? {} : { totalSteps: T }) },
        grid: {
          baseLr: [0.01],
          schedule: [{ kind: 'constant' }],
          seeds: [SEED],
          ...grid,
          ...(horizon ? { horizon } : {}),
        },
        ...(shape.asha ? { search: { kind: 'asha', ...shape.asha, maxBudget: T } } : {}),
      };
    },
    async start(env = {}) {
      const s = stack();
      const p = startAgentProcess(torchPython, ['test/fixtures/agents/torch_scenarios.py'], {
        LRSWEEP_API_URL: s.apiUrl,
        LRSWEEP_TOKEN: s.token,
        LRSWEEP_POOL: pool,
        CHECKPOINT_DIR: s.ckpt,
        CHECKPOINT_EVERY: String(EVERY),
        IDLE_TIMEOUT: '600',
        // The worker's pace (the stack gives its workers LRSWEEP_TEST_STEP_MS): a case acts mid-trial on both.
        LRSWEEP_TEST_STEP_MS: '40',
        AGENT_NAME: `scenario-agent-${++started}`,
        ...env,
      });
      let done = false;
      void p.exited.then(() => (done = true));
      return {
        pid: p.proc.pid!,
        exited: p.exited,
        alive: () => !done,
        signal: (s) => p.signal(s),
        lastLines: () => p.lines.slice(-8).join('\n'),
      };
    },
  };
}

/** One trial's end state and rows, as the table states them. */
export interface TrialOutcome {
  status: string;
  attempt: number;
  failures: number;
  /** Each attempt's recorded outcome, in order. */
  attempts: (string | null)[];
  /** Update rows: how many, and whether they are steps 0 … n−1 with no gap. */
  updates: number;
  contiguous: boolean;
  /** The attempts that wrote the series, in step order, each run of rows once: [1, 2] = resumed once. */
  writtenBy: number[];
  /** The steps of its evaluations. */
  evals: number[];
  /** Its rung estimates (ASHA). */
  rungs: number;
  /** For a fork: whether its rows before the fork point are the trunk's (rate and loss). */
  forkSharesTrunk?: boolean;
}

interface TrialRow {
  id: string;
  status: string;
  attempt: number;
  failures: number;
  fork_of: string | null;
  fork_step: number | null;
}
type SeriesRow = { step: number; lr: number; train_loss: number; attempt: number };

/** What `sweepId` left: its trials (longest first, then by ordinal), reduced to `TrialOutcome`s. */
export async function outcomeOf(url: string, sweepId: string): Promise<TrialOutcome[]> {
  const trials = await query<TrialRow>(
    url,
    `SELECT id, status::text AS status, attempt, failures, fork_of, fork_step FROM trials
      WHERE sweep_id = $1 ORDER BY total_steps DESC, (SELECT count(*) FROM update_metrics u WHERE u.trial_id = trials.id) DESC, ordinal`,
    [sweepId],
  );
  const seriesOf = (id: string) =>
    query<SeriesRow>(
      url,
      'SELECT step, lr, train_loss, attempt FROM update_metrics WHERE trial_id = $1 ORDER BY step',
      [id],
    );
  const out: TrialOutcome[] = [];
  for (const t of trials) {
    const rows = await seriesOf(t.id);
    const evals = await query<{ step: number }>(url, 'SELECT step FROM evaluations WHERE trial_id = $1 ORDER BY step', [
      t.id,
    ]);
    const attempts = await query<{ outcome: string | null }>(
      url,
      'SELECT outcome FROM trial_attempts WHERE trial_id = $1 ORDER BY attempt',
      [t.id],
    );
    const [rungs] = await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM rung_results WHERE trial_id = $1', [
      t.id,
    ]);
    const o: TrialOutcome = {
      status: t.status,
      attempt: t.attempt,
      failures: t.failures,
      attempts: attempts.map((a) => a.outcome),
      updates: rows.length,
      contiguous: rows.every((r, i) => r.step === i),
      writtenBy: rows.map((r) => r.attempt).filter((a, i, all) => i === 0 || all[i - 1] !== a),
      evals: evals.map((e) => e.step),
      rungs: rungs!.n,
    };
    if (t.fork_of && t.fork_step !== null) {
      const [trunkRow] = await query<{ id: string }>(url, 'SELECT id FROM trials WHERE identity = $1', [t.fork_of]);
      const trunk = await seriesOf(trunkRow!.id);
      const before = (s: SeriesRow[]) =>
        s.filter((r) => r.step < t.fork_step!).map((r) => [r.step, r.lr, r.train_loss]);
      o.forkSharesTrunk =
        before(rows).length === t.fork_step && JSON.stringify(before(rows)) === JSON.stringify(before(trunk));
    }
    out.push(o);
  }
  return out;
}
