// A trial that cannot fit its worker's slot by estimate (WORKER_SLOT_MEMORY_MB) is refused before
// it trains, for good, with the numbers; the next trial on the same worker trains.
import { type Stack, startStack, tinySpec } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('a slot memory budget', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('slot-memory', { workers: 1, env: { WORKER_SLOT_MEMORY_MB: '64' } });
  }, 120_000);
  afterAll(async () => stack?.stop());

  const spec = (name: string, hidden: number[]) => tinySpec({ name, model: { kind: 'mlp', hidden } });

  it('refuses a trial over WORKER_SLOT_MEMORY_MB before training, terminally, naming the numbers; a small one then trains', async () => {
    const big = await stack.client.post('/v1/sweeps', spec('too-big', [4096, 2048]));
    expect(big.status).toBe(201);
    expect(await stack.client.waitForSweep(big.body.id, 60_000)).toMatchObject({ status: 'failed' });
    const [t] = (await stack.client.get(`/v1/sweeps/${big.body.id}/trials`)).body.trials;
    expect(t).toMatchObject({ status: 'failed', errorCode: 'RESOURCE_EXHAUSTED', attempt: 1, failures: 0 });
    expect(t.error).toMatch(
      /^the trial needs about \d+ MiB by estimate \(\d+ MiB of weights, gradients and optimizer state for 11\d{6} parameters; \d+ MiB of activations at batch 50\), over this worker's 64 MiB a slot \(WORKER_SLOT_MEMORY_MB\)/,
    );
    // No update was trained, and the worker goes on.
    expect((await stack.client.get(`/v1/trials/${t.id}/metrics`)).body.updates).toEqual([]);
    const small = await stack.client.post('/v1/sweeps', spec('small', [8]));
    expect(await stack.client.waitForSweep(small.body.id, 60_000)).toMatchObject({ status: 'completed' });
  }, 120_000);
});
