// The framework examples' shared end-to-end cases (examples/transformers, examples/lightning):
// each runs as an agent against the real stack (with gradient accumulation where its framework has it).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lrSequence } from '@lrsweep/schedules';
import {
  type AgentProcess,
  eventually,
  query,
  requirement,
  type Stack,
  startAgentProcess,
  startStack,
  trialSeries,
} from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const python = process.env.LRSWEEP_TORCH_PYTHON ?? join(root, '.venv-torch/bin/python');

/** What differs between the framework examples: the script, its pool and the modules it needs. */
export interface FrameworkExample {
  title: string;
  script: string;
  pool: string;
  /** Python modules the example imports (the test fails, saying how to get them, without them). */
  modules: string[];
  /** Micro-batches per update (GRAD_ACCUM), where the framework's integration takes it. */
  accumulation: number;
}

/**
 * The same three cases for every framework example: a 2 × 2 sweep (gradient accumulation as given)
 * at exactly the schedule's rate per update; kill -9 resumed from the framework's checkpoint with
 * no gap and no row from two attempts; a deleted sweep's trial stopped within 10 s while the agent
 * goes on to another sweep's trial.
 */
export function frameworkExampleSuite({ title, script, pool, modules, accumulation }: FrameworkExample) {
  const present =
    existsSync(python) &&
    spawnSync(python, ['-c', `import ${modules.join(', ')}`], {
      stdio: 'ignore',
      env: { ...process.env, KERAS_BACKEND: 'torch' },
    }).status === 0;
  const needed = requirement(
    'torch',
    present,
    `${modules.join(', ')} in ${python}: .venv-torch/bin/pip install ${modules.join(' ')} (npm test does it), or set LRSWEEP_TORCH_PYTHON`,
  );

  describe.skipIf(needed.skip)(title, () => {
    let stack: Stack;
    let token: string;
    const ckpt = mkdtempSync(join(tmpdir(), `lrsweep-${pool}-`));
    const procs: AgentProcess[] = [];
    const example = (env: Record<string, string> = {}) => {
      const p = startAgentProcess(python, [script], {
        LRSWEEP_API_URL: stack.api.url,
        LRSWEEP_TOKEN: token,
        CHECKPOINT_DIR: ckpt,
        IDLE_TIMEOUT: '4',
        GRAD_ACCUM: String(accumulation),
        BATCH_SIZE: '4',
        ...env,
      });
      procs.push(p);
      return p;
    };
    const submit = async (name: string, totalSteps: number, extra: object = {}) => {
      const created = await stack.client.post('/v1/sweeps', {
        name,
        runner: { kind: 'external', pool, config: { width: 16 } },
        training: { totalSteps, evalEvery: 8 },
        grid: { baseLr: [0.003], schedule: [{ kind: 'constant' }], seeds: 1 },
        ...extra,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const trials = (await stack.client.get(`/v1/sweeps/${created.body.id}/trials`)).body.trials as { id: string }[];
      return { sweepId: created.body.id as string, trialIds: trials.map((t) => t.id) };
    };
    beforeAll(async () => {
      needed.assert();
      stack = await startStack(pool, { workers: 0, env: { AGENT_LEASE_MS: '5000', RECONCILE_INTERVAL_MS: '1000' } });
      token = (await stack.lrsweep.createToken({ projectId: 'default', name: pool, role: 'agent', pools: [pool] }))
        .token;
    }, 120_000);
    afterAll(async () => {
      for (const p of procs) p.signal('SIGKILL');
      await stack?.stop();
    });

    it(`trains 2 schedules × 2 base LRs${accumulation > 1 ? ` with gradient accumulation ${accumulation}` : ''} at exactly the schedule’s rate per update`, async () => {
      const T = 24;
      const { sweepId, trialIds } = await submit('hf-grid', T, {
        grid: {
          baseLr: [0.001, 0.01],
          schedule: [{ kind: 'constant' }, { kind: 'cosine', warmup: { steps: 4 } }],
          seeds: 1,
        },
      });
      const agent = example();
      // An agent that dies fails the test at once, saying what it printed (not after the wait).
      const died = agent.exited.then(async (code) => {
        await new Promise((r) => setTimeout(r, 2000));
        throw new Error(`the agent exited (${code}):\n${agent.lines.slice(-40).join('\n')}`);
      });
      const sweep = await Promise.race([stack.client.waitForSweep(sweepId, 240_000), died]);
      died.catch(() => {});
      expect(sweep.counts.completed, agent.lines.slice(-30).join('\n')).toBe(4);
      for (const id of trialIds) {
        const s = await trialSeries(stack.db.url, id);
        const [t] = await query<{ base_lr: number; schedule: object }>(
          stack.db.url,
          "SELECT (config->>'baseLr')::float8 AS base_lr, config->'schedule' AS schedule FROM trials WHERE id = $1",
          [id],
        );
        // One row per optimizer update (not per micro-batch), each at the schedule's rate.
        expect(s.updates.map((u) => u.step)).toEqual([...Array(T).keys()]);
        const want = lrSequence(t!.schedule as never, { baseLr: t!.base_lr, totalSteps: T });
        s.updates.forEach((u, i) => expect(u.lr).toBeCloseTo(want[i]!, 12));
        expect(s.updates.every((u) => Number.isFinite(u.train_loss))).toBe(true);
        // Evaluations every 8 updates and at T (the Trainer would skip the last), test_* at T only.
        expect(s.evals.map((e) => e.step)).toEqual([8, 16, 24]);
        expect(s.evals.every((e) => Number.isFinite(e.val_loss))).toBe(true);
        const [last] = await query<{ metrics: Record<string, number> }>(
          stack.db.url,
          'SELECT metrics FROM evaluations WHERE trial_id = $1 AND step = $2',
          [id, T],
        );
        expect(Object.keys(last!.metrics ?? {})).toContain('test_loss');
      }
      await agent.exited;
    }, 300_000);

    it('kill -9 mid-trial: a fresh agent resumes from the framework’s checkpoint, no gap, no row from two attempts', async () => {
      const T = 48;
      const { sweepId, trialIds } = await submit('hf-kill', T);
      const victim = example();
      await eventually(
        'a marker past update 16',
        async () => {
          const [t] = await query<{ checkpoint_step: number | null }>(
            stack.db.url,
            'SELECT checkpoint_step FROM trials WHERE id = $1',
            [trialIds[0]],
          );
          return (t?.checkpoint_step ?? 0) >= 15;
        },
        120_000,
        50,
      );
      victim.signal('SIGKILL');
      await victim.exited;
      const rescuer = example();
      await stack.client.waitForSweep(sweepId, 180_000);
      const claimed = rescuer.lines.find((l) => l.startsWith(`claimed ${trialIds[0]}`));
      expect(claimed, rescuer.lines.slice(-20).join('\n')).toBeDefined();
      const resumedAt = Number(/from (\d+)/.exec(claimed!)![1]);
      expect(resumedAt).toBeGreaterThanOrEqual(16);
      const s = await trialSeries(stack.db.url, trialIds[0]!);
      expect(s.trial.status).toBe('completed');
      expect(s.updates.map((u) => u.step)).toEqual([...Array(T).keys()]);
      expect(s.updates.slice(0, resumedAt).every((u) => u.attempt === 1)).toBe(true);
      expect(s.updates.slice(resumedAt).every((u) => u.attempt === 2)).toBe(true);
      expect(s.evals.map((e) => e.step)).toEqual([8, 16, 24, 32, 40, 48]);
      await rescuer.exited;
    }, 300_000);

    it('deleting the sweep stops the trainer within 10 s, and the agent trains the next sweep’s trial', async () => {
      const long = await submit('hf-deleted', 5000);
      const agent = example({ IDLE_TIMEOUT: '20' });
      await agent.waitFor((l) => l.startsWith(`claimed ${long.trialIds[0]}`), 60_000);
      await eventually(
        'training under way',
        async () => (await trialSeries(stack.db.url, long.trialIds[0]!)).updates.length >= 3,
        60_000,
        100,
      );
      const next = await submit('hf-next', 8);
      const t0 = Date.now();
      expect((await stack.client.delete(`/v1/sweeps/${long.sweepId}`)).status).toBe(200);
      const stopped = await agent.waitFor(
        (l) => l.includes(long.trialIds[0]!) && /^(stopped|trial .* ended)/.test(l),
        30_000,
      );
      expect(Date.now() - t0, stopped).toBeLessThan(10_000);
      await stack.client.waitForSweep(next.sweepId, 120_000);
      expect(agent.lines.some((l) => l.startsWith(`claimed ${next.trialIds[0]}`))).toBe(true);
      expect(agent.proc.exitCode).toBeNull();
    }, 300_000);
  });
}
