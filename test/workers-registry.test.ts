// One registry for the fleet (GET /v1/workers, lrsweep workers): built-in workers register with
// their pools, backend, slots and version, heartbeat, show what they run (another project's trials
// only as a count), are shown lost once silent for longer than the lease, and stopped after SIGTERM.
import { execFile } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@lrsweep/client';
import {
  bootstrapToken,
  eventually,
  query,
  type RunningProcess,
  type Stack,
  startStack,
  startWorker,
  tinySpec,
} from '@lrsweep/testkit';

const root = resolve(import.meta.dirname, '..');
const tsx = createRequire(join(root, 'apps/cli/package.json')).resolve('tsx');

describe('the worker registry', () => {
  let stack: Stack;
  const procs: RunningProcess[] = [];
  beforeAll(async () => {
    stack = await startStack('registry', {
      workers: 0,
      env: { WORKER_LOST_AFTER_MS: '2000', WORKER_HEARTBEAT_MS: '200', RECONCILE_INTERVAL_MS: '500' },
    });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await stack?.stop();
  });

  it('lists workers and agents with what they run, and marks the silent lost and the stopped stopped', async () => {
    const a = await startWorker({ ...stack.env, WORKER_ID: 'reg-a', WORKER_POOLS: 'alpha', WORKER_SLOTS: '2' });
    const b = await startWorker({ ...stack.env, WORKER_ID: 'reg-b', WORKER_POOLS: 'beta,gamma' });
    procs.push(a, b);
    const agentToken = await stack.lrsweep.createToken({
      projectId: 'default',
      name: 'trainer',
      role: 'agent',
      pools: ['torch'],
    });
    const agent = await fetch(`${stack.api.url}/v1/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agentToken.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'torch-1', pool: 'torch', framework: 'pytorch 2.13', protocolVersion: 2 }),
    });
    expect(agent.status).toBe(201);

    const byName = async (client = stack.lrsweep) =>
      new Map((await client.listWorkers()).workers.map((w) => [w.name, w]));
    const fleet = await byName();
    expect(fleet.get('reg-a')).toMatchObject({
      kind: 'worker',
      state: 'alive',
      pools: ['alpha'],
      slots: 2,
      backend: 'wasm',
      device: 'cpu',
      version: expect.any(String),
      runningTrials: [],
    });
    // The device itself: on a CPU worker its CPU model and the machine's memory (nvidia-smi's GPU, memory and driver on a GPU worker).
    const regA = fleet.get('reg-a')!;
    expect(regA.deviceName).toContain(cpus()[0]!.model.trim());
    expect(regA.deviceMemoryMiB).toBe(Math.round(totalmem() / 2 ** 20));
    expect(regA.driver).toBeNull();
    expect(fleet.get('reg-b')).toMatchObject({ kind: 'worker', state: 'alive', pools: ['beta', 'gamma'], slots: 1 });
    expect(fleet.get('torch-1')).toMatchObject({
      kind: 'agent',
      state: 'alive',
      pools: ['torch'],
      framework: 'pytorch 2.13',
    });

    // A trial running on reg-a: its project sees it by id; another project sees a count only.
    const created = await stack.lrsweep.submitSweep(
      tinySpec({
        name: 'on-alpha',
        runner: { kind: 'builtin', pool: 'alpha' },
        dataset: { trainSize: 4000, testSize: 64 },
        model: { hidden: [64] },
        training: { epochs: 20, batchSize: 16, evalEvery: 100 },
      }) as never,
    );
    const [trial] = (await stack.lrsweep.listTrials(created.id)).trials;
    const running = await eventually(
      'running on reg-a',
      async () => {
        const w = (await byName()).get('reg-a')!;
        return w.runningTrials.length ? w : null;
      },
      30_000,
      100,
    );
    expect(running.runningTrials).toEqual([{ trialId: trial!.id, sweepId: created.id }]);
    const otherToken = await stack.lrsweep.createToken({ projectId: 'elsewhere', name: 'member' });
    const other = createClient({ baseUrl: stack.api.url, token: otherToken.token });
    const seen = (await byName(other)).get('reg-a')!;
    expect(seen).toMatchObject({ runningTrials: [], otherProjectTrials: 1 });
    expect((await byName(other)).has('torch-1')).toBe(false);

    // The CLI shows the same.
    const cli = await promisify(execFile)(
      process.execPath,
      ['--import', tsx, join(root, 'apps/cli/src/main.ts'), 'workers'],
      { env: { ...process.env, LRSWEEP_API_URL: stack.api.url, LRSWEEP_TOKEN: bootstrapToken } },
    );
    // name, kind, state, pools, backend, device (the CPU model here), slots, running.
    expect(cli.stdout).toMatch(
      new RegExp(
        `reg-a\\s+worker\\s+alive\\s+alpha\\s+wasm\\s+${regA.deviceName!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+2\\s+1`,
      ),
    );

    // kill -9: silent, so lost within the lease time; SIGTERM: stopped.
    b.proc.kill('SIGKILL');
    const t0 = Date.now();
    await eventually('reg-b lost', async () => (await byName()).get('reg-b')!.state === 'lost', 10_000, 100);
    expect(Date.now() - t0).toBeLessThan(6000);
    await stack.lrsweep.cancelSweep(created.id);
    await a.stop('SIGTERM');
    expect((await byName()).get('reg-a')!.state).toBe('stopped');
  }, 120_000);
  it('leaves registrations silent for a day out of the list, and the reconciler deletes them (a read writes nothing)', async () => {
    await query(
      stack.db.url,
      "INSERT INTO workers (id, kind, name, pool, last_heartbeat_at, registered_at) VALUES (gen_random_uuid(), 'worker', 'long-gone', 'default', now() - interval '2 days', now() - interval '3 days')",
    );
    expect((await stack.lrsweep.listWorkers()).workers.map((w) => w.name)).not.toContain('long-gone');
    await eventually(
      'the stale registration deleted',
      async () =>
        (
          await query<{ n: number }>(stack.db.url, "SELECT count(*)::int AS n FROM workers WHERE name = 'long-gone'")
        )[0]!.n === 0,
      10_000,
      100,
    );
  });
});
