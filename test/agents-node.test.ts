// The TypeScript agent SDK (@lrsweep/agent) through every flow of the agent protocol's
// guarantees (test/support/agent-flows.ts), and a mixed run: built-in workers and external
// agents on different sweeps at once.
import { createRequire } from 'node:module';
import { apiClient, query, type Stack, startStack } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess } from '@lrsweep/testkit';
import { describeAgentFlows } from './support/agent-flows';

const tsx = createRequire(import.meta.url).resolve('tsx');
const nodeTrainer = (env: Record<string, string>) =>
  startAgentProcess(process.execPath, ['--import', tsx, 'test/fixtures/agents/logreg.ts'], env);

describeAgentFlows('node', nodeTrainer, { name: 'node', how: 'Node.js runs these tests' });

describe('a mixed fleet', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('mixed', { workers: 1 });
  }, 120_000);
  afterAll(async () => stack?.stop());

  it('runs a built-in sweep on a worker and an external one on an agent at once, on the same pool name', async () => {
    const token = (
      await stack.lrsweep.createToken({ projectId: 'default', name: 'mixed', role: 'agent', pools: ['default'] })
    ).token;
    const builtin = await stack.client.post('/v1/sweeps', {
      name: 'mixed-builtin',
      dataset: { name: 'synthetic', trainSize: 220, testSize: 50 },
      model: { kind: 'mlp', hidden: [8] },
      training: { epochs: 1, batchSize: 20, evalEvery: 5 },
      grid: { baseLr: [0.01, 0.1], schedule: [{ kind: 'constant' }], seeds: 2 },
    });
    const external = await stack.client.post('/v1/sweeps', {
      name: 'mixed-external',
      runner: { kind: 'external', pool: 'default', config: { features: 4 } },
      training: { totalSteps: 30, evalEvery: 10 },
      grid: { baseLr: [0.05, 0.2], schedule: [{ kind: 'linear' }], seeds: 2 },
    });
    expect([builtin.status, external.status]).toEqual([201, 201]);
    const agent = nodeTrainer({
      LRSWEEP_API_URL: stack.api.url,
      LRSWEEP_TOKEN: token,
      LOGREG_POOL: 'default',
      LOGREG_IDLE: '3',
      LOGREG_CKPT_DIR: '/tmp',
    });
    const [a, b] = await Promise.all([
      stack.client.waitForSweep(builtin.body.id, 120_000),
      stack.client.waitForSweep(external.body.id, 120_000),
    ]);
    expect(a).toMatchObject({ status: 'completed', counts: { completed: 4 } });
    expect(b).toMatchObject({ status: 'completed', counts: { completed: 4 } });
    await agent.exited;
    const trialsOf = async (id: string) =>
      (await stack.client.get(`/v1/sweeps/${id}/trials`)).body.trials as { workerId: string; backend: string | null }[];
    // Each kind of runner trained its own: the worker's trials ran on TF.js, the agent's on the agent.
    expect((await trialsOf(builtin.body.id)).every((t) => t.backend === 'wasm')).toBe(true);
    expect((await trialsOf(external.body.id)).every((t) => t.backend === null && t.workerId !== null)).toBe(true);
    expect((await apiClient(stack.api.url, token).get('/v1/agents')).body.agents).toHaveLength(1);
  });
});

describe("examples/agent-node (a TF.js trainer of the user's own)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('tfjs-example', { workers: 0 });
  }, 120_000);
  afterAll(async () => stack?.stop());

  it('trains a sweep to a ranking', async () => {
    const token = (
      await stack.lrsweep.createToken({ projectId: 'default', name: 'tfjs', role: 'agent', pools: ['tfjs'] })
    ).token;
    const created = await stack.client.post('/v1/sweeps', {
      name: 'tfjs-example',
      runner: { kind: 'external', pool: 'tfjs', config: { hidden: 16 } },
      training: { totalSteps: 120, evalEvery: 40 },
      grid: { baseLr: [0.05, 0.2], schedule: [{ kind: 'constant' }, { kind: 'linear' }], seeds: 1 },
    });
    expect(created.status).toBe(201);
    const example = startAgentProcess(process.execPath, ['--import', tsx, 'examples/agent-node/train.ts'], {
      LRSWEEP_API_URL: stack.api.url,
      LRSWEEP_TOKEN: token,
      IDLE_TIMEOUT_MS: '3000',
    });
    const sweep = await stack.client.waitForSweep(created.body.id, 120_000);
    expect(sweep).toMatchObject({ status: 'completed', counts: { completed: 4 } });
    expect(await example.exited).toBe(0);
    const ranking = (await stack.client.get(`/v1/sweeps/${created.body.id}/results`)).body.ranking;
    expect(ranking).toHaveLength(4);
    expect(ranking[0].mean).toBeLessThan(Math.log(2));
  });

  it('extends an external sweep: the agent trains the added trials, the first ones keep their rows', async () => {
    const token = (
      await stack.lrsweep.createToken({ projectId: 'default', name: 'tfjs-extend', role: 'agent', pools: ['tfjs'] })
    ).token;
    const agent = () =>
      startAgentProcess(process.execPath, ['--import', tsx, 'examples/agent-node/train.ts'], {
        LRSWEEP_API_URL: stack.api.url,
        LRSWEEP_TOKEN: token,
        IDLE_TIMEOUT_MS: '3000',
      });
    const created = await stack.client.post('/v1/sweeps', {
      name: 'tfjs-extend',
      runner: { kind: 'external', pool: 'tfjs', config: { hidden: 16 } },
      training: { totalSteps: 60, evalEvery: 30 },
      grid: { baseLr: [0.05], schedule: [{ kind: 'constant' }, { kind: 'linear' }], seeds: 1 },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const first = agent();
    await stack.client.waitForSweep(id, 120_000);
    expect(await first.exited).toBe(0);
    const rowsBefore = await query<{ trial_id: string; step: number; lr: number; train_loss: number }>(
      stack.db.url,
      'SELECT u.trial_id, u.step, u.lr, u.train_loss FROM update_metrics u JOIN trials t ON t.id = u.trial_id WHERE t.sweep_id = $1 ORDER BY u.trial_id, u.step',
      [id],
    );
    expect(rowsBefore).toHaveLength(2 * 60);
    const endsOf = () =>
      query<{ id: string; attempt: number; finished_at: Date }>(
        stack.db.url,
        'SELECT id, attempt, finished_at FROM trials WHERE sweep_id = $1 AND id = ANY($2::uuid[]) ORDER BY id',
        [id, [...new Set(rowsBefore.map((r) => r.trial_id))]],
      );
    const endsBefore = await endsOf();

    // One more base LR and one more seed: 2 schedules × 2 LRs × 2 seeds, 6 of them new.
    expect(await stack.lrsweep.extendSweep(id, { baseLr: [0.2], seeds: 2 })).toMatchObject({
      addedTrials: 6,
      trialCount: 8,
    });
    const second = agent();
    const sweep = await stack.client.waitForSweep(id, 120_000);
    expect(await second.exited).toBe(0);
    expect(sweep).toMatchObject({ status: 'completed', counts: { completed: 8 } });
    const { trials } = (await stack.client.get(`/v1/sweeps/${id}/trials`)).body;
    for (const t of trials) {
      const updates = (await stack.client.get(`/v1/trials/${t.id}/metrics`)).body.updates as { step: number }[];
      expect(updates.map((u) => u.step)).toEqual([...Array(60).keys()]);
    }
    // The first trials were not run again: the same attempt, ended when it ended, rows as they were.
    expect(await endsOf()).toEqual(endsBefore);
    expect(endsBefore.map((t) => t.attempt)).toEqual([1, 1]);
    const rowsAfter = await query<{ trial_id: string; step: number; lr: number; train_loss: number }>(
      stack.db.url,
      'SELECT u.trial_id, u.step, u.lr, u.train_loss FROM update_metrics u WHERE u.trial_id = ANY($1::uuid[]) ORDER BY u.trial_id, u.step',
      [[...new Set(rowsBefore.map((r) => r.trial_id))]],
    );
    expect(rowsAfter).toEqual(rowsBefore);
    expect((await stack.client.get(`/v1/sweeps/${id}/results`)).body.ranking).toHaveLength(4);
  });

  it('forks a horizon axis for the TF.js example: the fork equals the same horizon run alone', async () => {
    const token = (
      await stack.lrsweep.createToken({ projectId: 'default', name: 'tfjs-forks', role: 'agent', pools: ['tfjs'] })
    ).token;
    // WSD, 20% of the rest decaying: the 200-update horizon forks from the 400-update trunk at its decay start.
    const wsd = { kind: 'wsd', decayFraction: 0.2, decayShape: 'linear', warmup: { steps: 1 } };
    const sweepOf = (name: string, horizon: number[]) => ({
      name,
      runner: { kind: 'external', pool: 'tfjs', config: { hidden: 16 } },
      training: { evalEvery: 50 },
      grid: { horizon, baseLr: [0.2], schedule: [wsd], seeds: 1 },
    });
    const run = async (spec: object) => {
      const created = await stack.client.post('/v1/sweeps', spec);
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const agent = startAgentProcess(process.execPath, ['--import', tsx, 'examples/agent-node/train.ts'], {
        LRSWEEP_API_URL: stack.api.url,
        LRSWEEP_TOKEN: token,
        IDLE_TIMEOUT_MS: '3000',
        CHECKPOINT_EVERY: '1000',
      });
      const sweep = await stack.client.waitForSweep(created.body.id, 120_000);
      expect(await agent.exited).toBe(0);
      const { trials } = (await stack.client.get(`/v1/sweeps/${created.body.id}/trials`)).body;
      return { sweep, trials, lines: agent.lines };
    };
    const forked = await run(sweepOf('tfjs-forks', [200, 400]));
    expect(forked.sweep).toMatchObject({ status: 'completed', forks: { trunks: 1, forks: 1 } });
    const fork = forked.trials.find((t: { totalSteps: number }) => t.totalSteps === 200);
    // The fork's claim started it at the fork point, from the trunk's marker there.
    const [row] = await query<{ fork_step: number }>(stack.db.url, 'SELECT fork_step FROM trials WHERE id = $1', [
      fork.id,
    ]);
    const F = row!.fork_step;
    expect(F).toBeGreaterThan(100);
    expect(forked.lines.find((l) => l.startsWith(`trial ${fork.id}`))).toContain(`from update ${F}`);
    const alone = await run(sweepOf('tfjs-alone', [200]));
    const seriesOf = async (id: string) =>
      (await stack.client.get(`/v1/trials/${id}/metrics`)).body.updates.map((u: { lr: number; trainLoss: number }) => [
        u.lr,
        u.trainLoss,
      ]);
    const forkSeries = await seriesOf(fork.id);
    expect(forkSeries).toHaveLength(200);
    expect(forkSeries).toEqual(await seriesOf(alone.trials[0].id));
  });
  it('runs an annealed-ASHA sweep under the Node SDK: rungs judged off the series, the best configuration to the horizon', async () => {
    const token = (
      await stack.lrsweep.createToken({ projectId: 'default', name: 'tfjs-asha', role: 'agent', pools: ['tfjs-asha'] })
    ).token;
    const created = await stack.client.post('/v1/sweeps', {
      name: 'tfjs-asha',
      runner: { kind: 'external', pool: 'tfjs-asha', config: { hidden: 16 } },
      training: { evalEvery: 40 },
      grid: { baseLr: [0.02, 0.2], schedule: [{ kind: 'constant' }, { kind: 'linear' }], seeds: 1 },
      // Rungs at 40 and 80 updates, T = 160: 4 configurations → 2 → 1.
      search: { kind: 'asha', minBudget: 40, maxBudget: 160, reduction: 2 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const agent = startAgentProcess(process.execPath, ['--import', tsx, 'examples/agent-node/train.ts'], {
      LRSWEEP_API_URL: stack.api.url,
      LRSWEEP_TOKEN: token,
      LRSWEEP_POOL: 'tfjs-asha',
      IDLE_TIMEOUT_MS: '3000',
      CHECKPOINT_EVERY: '1000',
    });
    const sweep = await stack.client.waitForSweep(created.body.id, 120_000);
    expect(sweep).toMatchObject({ status: 'completed', counts: { completed: 1, pruned: 3, failed: 0 } });
    expect(await agent.exited).toBe(0);
    expect(agent.lines.filter((l) => l.includes('judged at its rung'))).toHaveLength(6);
    const rungs = await query<{ rung: number; step: number; cooldown_steps: number }>(
      stack.db.url,
      'SELECT r.rung, r.step, r.cooldown_steps FROM rung_results r JOIN trials t ON t.id = r.trial_id WHERE t.sweep_id = $1 AND r.value IS NOT NULL',
      [created.body.id],
    );
    expect(rungs.map((r) => `${r.rung}:${r.step}:${r.cooldown_steps}`).sort()).toEqual([
      '0:40:6',
      '0:40:6',
      '0:40:6',
      '0:40:6',
      '1:80:12',
      '1:80:12',
    ]);
    const { trials } = (await stack.client.get(`/v1/sweeps/${created.body.id}/trials`)).body;
    for (const t of trials as { id: string; status: string }[]) {
      const { updates } = (await stack.client.get(`/v1/trials/${t.id}/metrics`)).body;
      const [row] = await query<{ pruned_rung: number | null }>(
        stack.db.url,
        'SELECT pruned_rung FROM trials WHERE id = $1',
        [t.id],
      );
      const expected = t.status === 'completed' ? 160 : [40, 80][row!.pruned_rung!]!;
      expect(updates.map((u: { step: number }) => u.step)).toEqual([...Array(expected).keys()]);
    }
  });
});
