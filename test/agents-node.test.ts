// The TypeScript agent SDK (@lrsweep/agent) through every flow of the agent protocol's
// guarantees (test/support/agent-flows.ts), and a mixed run: built-in workers and external
// agents on different sweeps at once.
import { createRequire } from 'node:module';
import { apiClient, type Stack, startStack } from '@lrsweep/testkit';
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
});
