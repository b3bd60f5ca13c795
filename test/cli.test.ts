// The lrsweep CLI as a user runs it, against a real API and worker.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { bootstrapToken, type Stack, startStack } from '@lrsweep/testkit';

const root = resolve(import.meta.dirname, '..');
const tsx = createRequire(join(root, 'apps/cli/package.json')).resolve('tsx');
const dir = mkdtempSync(join(tmpdir(), 'lrsweep-cli-'));

const spec = {
  name: 'cli-sweep',
  dataset: { name: 'mnist', trainSize: 400, testSize: 100 },
  model: { kind: 'mlp', hidden: [16] },
  training: { epochs: 1, batchSize: 50, evalEvery: 4 },
  grid: { baseLr: [0.001, 0.01], schedule: [{ kind: 'constant' }, { kind: 'cosine', warmup: { steps: [0, 2] } }], seeds: 2 },
};

describe('lrsweep CLI', () => {
  let stack: Stack;
  let apiUrl: string;

  const cli = async (...args: string[]) => {
    try {
      const r = await promisify(execFile)(process.execPath, ['--import', tsx, join(root, 'apps/cli/src/main.ts'), ...args], {
        env: { ...process.env, LRSWEEP_API_URL: apiUrl, LRSWEEP_TOKEN: bootstrapToken },
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };

  beforeAll(async () => {
    stack = await startStack('cli');
    apiUrl = stack.api.url;
  });
  afterAll(async () => stack?.stop());

  it('--dry-run counts trials and steps exactly as the API does', async () => {
    const file = join(dir, 'spec.yaml');
    writeFileSync(file, stringify(spec));
    const r = await cli('submit', file, '--dry-run');
    expect(r.code).toBe(0);
    const m = /(\d+) trials = (\d+) configurations × (\d+) seeds; (\d+) updates each/.exec(r.stdout)!;
    const api = await stack.client.post('/v1/sweeps', spec);
    expect(api.status).toBe(201);
    expect({ trials: Number(m[1]), configs: Number(m[2]), steps: Number(m[4]) }).toEqual({
      trials: api.body.trialCount,
      configs: api.body.configCount,
      steps: api.body.totalSteps,
    });
    expect(r.stdout).toContain('cosine + warmup 2');
  });

  it('submit --follow shows progress, ends with the ranking table and exit code 0', async () => {
    const file = join(dir, 'follow.json');
    writeFileSync(file, JSON.stringify({ ...spec, name: 'followed' }));
    const r = await cli('submit', file, '--follow');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\] 12\/12 done/);
    const lines = r.stdout.trim().split('\n');
    expect(lines.find((l) => l.startsWith('rank'))).toContain('mean val_loss');
    expect(lines.filter((l) => /^\s+\d+\s{2}/.test(l))).toHaveLength(6);
    const id = /sweep ([0-9a-f-]{36})/.exec(r.stdout)![1]!;
    const status = await cli('status', id);
    expect(status.stdout).toContain('completed');
    const json = JSON.parse((await cli('results', id, '--json')).stdout);
    expect(json.ranking).toHaveLength(6);
    const csv = (await cli('results', id, '--csv')).stdout.trim().split('\n');
    expect(csv).toHaveLength(7);
    // Nothing failed and the sweep has ended: retry and cancel change nothing, and say so.
    const retry = await cli('retry', id);
    expect(retry).toMatchObject({ code: 1 });
    expect(retry.stderr).toContain('nothing to retry');
    const cancel = await cli('cancel', id);
    expect(cancel).toMatchObject({ code: 1 });
    expect(cancel.stderr).toContain('nothing to cancel');
  });

  it('an invalid spec prints every problem with its path and exits 2', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, stringify({ ...spec, training: { epochs: 0, batchSize: 50 }, grid: { ...spec.grid, baseLr: [-1], schedule: [{ kind: 'cosine', minFactor: 3 }] } }));
    const r = await cli('submit', file);
    expect(r.code).toBe(2);
    for (const path of ['training.epochs', 'grid.baseLr[0]']) expect(r.stderr).toContain(`  ${path}: `);
    const r2 = await cli('submit', join(dir, 'bad2.json'));
    expect(r2.code).toBe(2);
  });

  it('reports a missing sweep with exit 5, bad usage with 2, and manages tokens', async () => {
    expect((await cli('status', '00000000-0000-4000-8000-000000000000')).code).toBe(5);
    expect((await cli('frobnicate')).code).toBe(2);
    const created = await cli('tokens', 'create', '--project', 'cli-test', '--name', 'bot');
    expect(created.code).toBe(0);
    const id = /created token ([0-9a-f-]{36})/.exec(created.stdout)![1]!;
    expect((await cli('tokens', 'list', '--project', 'cli-test')).stdout).toContain(id);
    expect((await cli('tokens', 'revoke', id)).stdout).toContain(`revoked ${id}`);
  });
});

describe('lrsweep agents and agent tokens', () => {
  let stack: Stack;
  const cli = async (apiUrl: string, ...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', tsx, join(root, 'apps/cli/src/main.ts'), ...args], { env: { ...process.env, LRSWEEP_API_URL: apiUrl, LRSWEEP_TOKEN: bootstrapToken } });
  beforeAll(async () => {
    stack = await startStack('cli-agents', { workers: 0 });
  });
  afterAll(async () => stack?.stop());

  it('mints an agent token of a pool, and lists the agents with their state', async () => {
    const created = await cli(stack.api.url, 'tokens', 'create', '--project', 'default', '--name', 'gpu-fleet', '--role', 'agent', '--pools', 'torch-gpu,torch-cpu');
    expect(created.stdout).toContain('agent of pools torch-gpu, torch-cpu');
    const token = created.stdout.trim().split('\n').at(-1)!;
    expect((await cli(stack.api.url, 'agents')).stdout).toContain('no agent has registered');
    const agent = await fetch(`${stack.api.url}/v1/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'gpu-node-7', pool: 'torch-gpu', framework: 'pytorch 2.13', protocolVersion: 1 }),
    });
    expect(agent.status).toBe(201);
    const listed = (await cli(stack.api.url, 'agents')).stdout;
    expect(listed).toMatch(/gpu-node-7\s+torch-gpu\s+alive/);
    expect(listed).toContain('pytorch 2.13');
  });
});
