// One trial engine for every runner (issue #30): a built-in worker and a Python agent (the PyTorch
// example) are driven through the same table of cases — finish, fail within and over the failure
// budget, release, lease loss, cancel and delete mid-run, a fork, a rung pause and a rung stop — and
// must reach the same end states and rows. What a case leaves in Postgres is reduced to one object
// per trial (`TrialOutcome`: status, attempts and their recorded outcomes, failures, which attempts
// wrote which rows, evaluation steps, rung estimates, a fork's shared prefix); the table states it
// once, and each runner's must equal it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, type FaultStack, query, requirement, startFaultStack } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EVERY,
  haveTorch,
  outcomeOf,
  pythonRunner,
  type Runner,
  type RunnerProcess,
  SEED,
  type SweepShape,
  T,
  type TrialOutcome,
  torchPython,
  workerRunner,
} from './support/scenario-runners';

const torch = requirement(
  'torch',
  haveTorch,
  `PyTorch in ${torchPython}: npm test makes .venv-torch (or set LRSWEEP_TORCH_PYTHON)`,
);

/** What a case can do to its runners and its sweep. */
interface Ctx {
  runner: Runner;
  stack: FaultStack;
  /** Starts a runner process (stopped with the case). */
  start(env?: Record<string, string>): Promise<RunnerProcess>;
  submit(shape?: SweepShape): Promise<{ sweepId: string; trialId: string }>;
  /** Waits until the sweep has ended. */
  ended(sweepId: string): Promise<void>;
  /** Waits until the trial has at least `n` update rows while it runs; answers how many. */
  rowsAtLeast(trialId: string, n: number): Promise<number>;
  /** Waits until the running trial has a checkpoint. */
  checkpointed(trialId: string): Promise<number>;
  rows(trialId: string): Promise<number>;
  /** Facts a case checks beyond the outcome (the same for both runners). */
  facts: Record<string, unknown>;
}

interface Case {
  name: string;
  run(c: Ctx): Promise<string>;
  /** The end state, the same whichever runner trained it (as `shape` reduces it). */
  want?: unknown[];
  /** Reduces an outcome to what does not depend on timing (how many rows a stop leaves, say). */
  shape?: (o: TrialOutcome) => unknown;
  /** Facts the case records (runner alive afterwards, rows unchanged after a stop, …). */
  facts?: Record<string, unknown>;
}

const completed = (over: Partial<TrialOutcome> = {}): TrialOutcome => ({
  status: 'completed',
  attempt: 1,
  failures: 0,
  attempts: ['completed'],
  updates: T,
  contiguous: true,
  writtenBy: [1],
  evals: [20, 40, 60],
  rungs: 0,
  ...over,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wsd = { kind: 'wsd', decayFraction: 0.2, decayShape: 'linear', warmup: { steps: 1 } };

const cases: Case[] = [
  {
    name: 'finish',
    async run(c) {
      await c.start();
      const { sweepId } = await c.submit();
      await c.ended(sweepId);
      return sweepId;
    },
    want: [completed()],
  },
  {
    name: 'fail within the budget: retried, then completed',
    async run(c) {
      // A transient fault, once: a worker's trainer process aborts; the agent's trainer raises.
      await c.start({ LRSWEEP_FAULT_CRASH_ONCE: join(mkdtempSync(join(tmpdir(), 'lrsweep-crash-once-')), 'crashed') });
      const { sweepId } = await c.submit();
      await c.ended(sweepId);
      return sweepId;
    },
    want: [completed({ attempt: 2, failures: 1, attempts: ['requeued', 'completed'], writtenBy: [2] })],
  },
  {
    name: 'fail over the budget: failed with the reason',
    async run(c) {
      await c.start({ LRSWEEP_FAULT_ABORT_SEED: String(SEED) });
      const { sweepId, trialId } = await c.submit();
      await c.ended(sweepId);
      const t = (await c.stack.api.get(`/v1/trials/${trialId}`)).body;
      // The trial says why: the last attempt's reason, in a sentence.
      c.facts.saysWhy = typeof t.error === 'string' && t.error.length > 10;
      return sweepId;
    },
    facts: { saysWhy: true },
    want: [
      {
        ...completed(),
        status: 'failed',
        attempt: 2,
        failures: 2,
        attempts: ['requeued', 'failed'],
        // Updates 0 and 1 of the last attempt; the third never completed.
        updates: 2,
        writtenBy: [2],
        evals: [],
      },
    ],
  },
  {
    name: 'release (SIGTERM mid-run): another runner resumes it from its checkpoint',
    async run(c) {
      const first = await c.start();
      const { sweepId, trialId } = await c.submit();
      await c.checkpointed(trialId);
      first.signal('SIGTERM');
      await first.exited;
      await c.start();
      await c.ended(sweepId);
      return sweepId;
    },
    want: [completed({ attempt: 2, attempts: ['requeued', 'completed'], writtenBy: [1, 2] })],
  },
  {
    name: 'lease loss (SIGSTOP): another runner takes the trial; the first, woken, writes nothing',
    async run(c) {
      const first = await c.start();
      const { sweepId, trialId } = await c.submit();
      await c.checkpointed(trialId);
      first.signal('SIGSTOP');
      await c.start();
      await eventually(
        'attempt 2 running',
        async () =>
          (
            await query<{ attempt: number; status: string }>(
              c.stack.db.url,
              'SELECT attempt, status::text AS status FROM trials WHERE id = $1',
              [trialId],
            )
          )[0]!.attempt === 2,
        60_000,
        50,
      );
      first.signal('SIGCONT');
      await c.ended(sweepId);
      // The woken runner's late writes had time to land (they must not).
      await sleep(2000);
      c.facts.firstAlive = first.alive();
      return sweepId;
    },
    // A lapsed lease spends one of the trial's failures (a runner that keeps vanishing fails it).
    want: [completed({ attempt: 2, failures: 1, attempts: ['requeued', 'completed'], writtenBy: [1, 2] })],
    facts: { firstAlive: true },
  },
  {
    name: 'cancel mid-run: the runner stops at once and stays up',
    async run(c) {
      const p = await c.start();
      const { sweepId, trialId } = await c.submit();
      await c.rowsAtLeast(trialId, 10);
      expect((await c.stack.api.post(`/v1/sweeps/${sweepId}/cancel`)).status).toBe(200);
      await c.ended(sweepId);
      const n = await c.rows(trialId);
      await sleep(2000);
      c.facts.rowsAfterStop = (await c.rows(trialId)) === n ? 'unchanged' : 'grew';
      c.facts.stoppedEarly = n < T;
      c.facts.alive = p.alive();
      return sweepId;
    },
    // How many rows a stop leaves depends on timing: the table states that some, not all, were written.
    shape: ({ updates, evals: _evals, ...o }) => ({ ...o, updates: updates > 0 && updates < T ? 'some' : updates }),
    want: [{ ...completed(), status: 'cancelled', attempts: ['cancelled'], updates: 'some', evals: undefined }],
    facts: { rowsAfterStop: 'unchanged', stoppedEarly: true, alive: true },
  },
  {
    name: 'delete mid-run: no row survives, the runner stays up',
    async run(c) {
      const p = await c.start();
      const { sweepId, trialId } = await c.submit();
      await c.rowsAtLeast(trialId, 10);
      expect((await c.stack.api.delete(`/v1/sweeps/${sweepId}`)).status).toBe(200);
      await sleep(2500);
      c.facts.rowsLeft = await c.rows(trialId);
      c.facts.alive = p.alive();
      return sweepId;
    },
    want: [],
    facts: { rowsLeft: 0, alive: true },
  },
  {
    name: 'fork: the shorter horizon forks from the trunk and shares its rows up to the fork point',
    async run(c) {
      await c.start();
      const { sweepId } = await c.submit({ grid: { horizon: [30, T], schedule: [wsd] } });
      await c.ended(sweepId);
      return sweepId;
    },
    want: [completed(), completed({ updates: 30, evals: [20, 30], writtenBy: [0, 1], forkSharesTrunk: true })],
  },
  {
    name: 'rung pause and rung stop: the better trial pauses at its rungs and resumes; the other stops',
    async run(c) {
      await c.start();
      const { sweepId } = await c.submit({ grid: { baseLr: [0.0001, 0.05] }, asha: { minBudget: 20, reduction: 2 } });
      await c.ended(sweepId);
      return sweepId;
    },
    // Rungs at 20 and 40 updates (η = 2): each attempt ends at a rung (checkpoint, estimate, paused);
    // the better trial resumes at each and completes on its third attempt; the other is stopped at
    // its first rung, its series ending there.
    want: [
      completed({ attempt: 3, attempts: ['requeued', 'requeued', 'completed'], writtenBy: [1, 2, 3], rungs: 2 }),
      { ...completed(), status: 'pruned', attempts: ['requeued'], updates: 20, evals: [20], rungs: 1 },
    ],
  },
];

describe.skipIf(torch.skip)('one table of trial scenarios, for a built-in worker and a Python agent', () => {
  let stack: FaultStack;
  let token: string;
  const ckpt = mkdtempSync(join(tmpdir(), 'lrsweep-scenarios-'));
  const runners: Runner[] = [];
  const seen: Record<string, Record<string, unknown>> = {};

  beforeAll(async () => {
    torch.assert();
    stack = await startFaultStack('scenarios', {
      checkpointEvery: EVERY,
      env: { LRSWEEP_TEST_STEP_MS: '40' },
      apiEnv: { AGENT_LEASE_MS: '3000', TRIAL_FAILURE_BUDGET: '2' },
    });
    const created = await stack.api.post('/v1/admin/tokens', {
      projectId: 'default',
      name: 'scenarios',
      role: 'agent',
      pools: ['scenarios'],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    token = created.body.token;
    runners.push(
      workerRunner(stack),
      pythonRunner(() => ({ apiUrl: stack.apiUrl, token, ckpt }), 'scenarios'),
    );
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    rmSync(ckpt, { recursive: true, force: true });
  });

  for (const kase of cases) {
    for (const name of ['worker', 'python'] as const) {
      it(`${kase.name} (${name})`, async () => {
        const runner = runners.find((r) => r.name === name)!;
        const procs: RunnerProcess[] = [];
        const rows = async (trialId: string) =>
          (
            await query<{ n: number }>(
              stack.db.url,
              'SELECT count(*)::int AS n FROM update_metrics WHERE trial_id = $1',
              [trialId],
            )
          )[0]!.n;
        const ctx: Ctx = {
          runner,
          stack,
          facts: {},
          async start(env) {
            const p = await runner.start(env);
            procs.push(p);
            return p;
          },
          async submit(shape = {}) {
            const r = await stack.api.post('/v1/sweeps', runner.sweep(`${name}-${kase.name.split(' ')[0]}`, shape));
            expect(r.status, JSON.stringify(r.body)).toBe(201);
            const trials = (await stack.api.get(`/v1/sweeps/${r.body.id}/trials?limit=10`)).body.trials as {
              id: string;
            }[];
            return { sweepId: r.body.id, trialId: trials[0]!.id };
          },
          async ended(sweepId) {
            try {
              await stack.api.waitForSweep(sweepId, 120_000);
            } catch (e) {
              throw new Error(`${(e as Error).message}\n${procs.map((p) => p.lastLines()).join('\n--\n')}`);
            }
          },
          rows,
          rowsAtLeast: (trialId, n) =>
            eventually(
              `${n} update rows`,
              async () => {
                const k = await rows(trialId);
                return k >= n ? k : null;
              },
              60_000,
            ),
          checkpointed: (trialId) =>
            eventually(
              'a checkpoint',
              async () =>
                (
                  await query<{ s: number | null }>(
                    stack.db.url,
                    "SELECT checkpoint_step AS s FROM trials WHERE id = $1 AND status = 'running'",
                    [trialId],
                  )
                )[0]?.s,
              60_000,
            ),
        };
        try {
          const sweepId = await kase.run(ctx);
          const got = (await outcomeOf(stack.db.url, sweepId)).map((o) => (kase.shape ? kase.shape(o) : o));
          seen[`${kase.name} (${name})`] = { outcome: got, facts: ctx.facts };
          console.log(`${kase.name} (${name}): ${JSON.stringify(got)} ${JSON.stringify(ctx.facts)}`);
          if (kase.want) expect(got).toEqual(kase.want);
          expect(ctx.facts).toEqual(kase.facts ?? {});
          if (name === 'python') {
            // The same end state as the worker's, field for field.
            const w = seen[`${kase.name} (worker)`];
            if (w) expect({ outcome: got, facts: ctx.facts }).toEqual(w);
          }
        } finally {
          for (const p of procs) {
            p.signal('SIGCONT');
            p.signal('SIGKILL');
          }
          await Promise.all(procs.map((p) => p.exited));
        }
      }, 180_000);
    }
  }
});
