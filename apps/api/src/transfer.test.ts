// GET /v1/sweeps/:id/transfer through the real API, Postgres and Redis: an external sweep marks its
// trainer's `width` axis, an agent trains every trial through the agent routes and reports a
// synthetic objective whose η*(width) follows a known power law (exponent −1), and the answer
// finds that law, extrapolates to the target, and says the winning schedule holds at every width.
// And the spec's transfer block refuses what cannot be a scale axis, naming the field.
import { createToken } from '@lrsweep/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, createApiHarness } from './test-harness';

const widths = [64, 128, 256];
const etaStar = (w: number) => 0.01 * (w / 64) ** -1;
/** A seed's scatter, the same for every run: ±0.01. */
const noise = (seed: number, lr: number, width: number) => {
  const x = Math.sin(seed * 12.9898 + lr * 78.233 + width * 0.731) * 43758.5453;
  return 0.02 * (x - Math.floor(x) - 0.5);
};
const offsets: Record<string, number> = { cosine: 0, linear: 0.05, constant: 0.1 };
const spec = (extra: object = {}) => ({
  name: 'transfer',
  runner: { kind: 'external', pool: 'xfer' },
  training: { totalSteps: 2, evalEvery: 2 },
  grid: {
    baseLr: [-3, -2.5, -2, -1.5, -1].map((e) => 10 ** e),
    schedule: [{ kind: 'cosine' }, { kind: 'linear' }, { kind: 'constant' }],
    seeds: 2,
    config: { width: widths },
  },
  transfer: { width: { from: 'grid.config.width' }, baseWidth: 64, target: { width: 1024 } },
  ...extra,
});

describe('GET /v1/sweeps/:id/transfer', () => {
  let h: ApiHarness;
  let agent: string;
  beforeAll(async () => {
    h = await createApiHarness('transfer');
    agent = (await createToken(h.handle.prisma, { projectId: 'default', name: 'xfer', role: 'agent', pools: ['xfer'] }))
      .token;
  });
  afterAll(async () => h?.close());
  const post = (url: string, payload: object, token?: string) => h.inject({ method: 'POST', url, payload }, token);

  it('fits η* = a·width^b from an agent’s trials and extrapolates to the target width', async () => {
    const created = await post('/v1/sweeps', spec());
    expect(created.statusCode, created.body).toBe(201);
    const sweepId = created.json().id as string;
    const me = (await post('/v1/agents', { name: 'xfer', pool: 'xfer', protocolVersion: 2 }, agent)).json().agentId;
    for (let n = 0; n < 90; n++) {
      const t = (await post(`/v1/agents/${me}/claim`, { waitMs: 2000 }, agent)).json().trial;
      expect(t, `trial ${n}`).not.toBeNull();
      const fence = { attempt: t.attempt, leaseToken: t.leaseToken };
      const loss =
        (Math.log10(t.baseLr) - Math.log10(etaStar(t.config.width))) ** 2 +
        offsets[t.schedule.kind]! +
        noise(t.seed, t.baseLr, t.config.width);
      const updates = t.lr.lr.slice(0, 2).map((lr: number, step: number) => ({ step, lr, loss: 1 }));
      expect((await post(`/v1/trials/${t.id}/updates`, { ...fence, updates }, agent)).statusCode).toBe(200);
      const ev = await post(`/v1/trials/${t.id}/evals`, { ...fence, step: 2, metrics: { val_loss: loss } }, agent);
      expect(ev.statusCode, ev.body).toBe(200);
      expect((await post(`/v1/trials/${t.id}/complete`, fence, agent)).statusCode).toBe(200);
    }
    const r = await h.inject(`/v1/sweeps/${sweepId}/transfer`);
    expect(r.statusCode, r.body).toBe(200);
    const a = r.json();
    expect(a).toMatchObject({
      objective: { metric: 'val_loss', mode: 'min' },
      width: { from: 'grid.config.width', baseWidth: 64, target: 1024 },
      length: null,
      parametrization: 'standard',
      pending: 0,
    });
    expect(a.optima).toHaveLength(9);
    expect(a.laws).toHaveLength(3);
    for (const law of a.laws) {
      expect(law.b).toBeCloseTo(-1, 1);
      expect(law.target.scale).toBe(16);
      expect(law.target.interval[0]).toBeLessThan(0.01 / 16);
      expect(law.target.interval[1]).toBeGreaterThan(0.01 / 16);
    }
    expect(a.rankings.map((x: { order: { schedule: string }[] }) => x.order.map((o) => o.schedule))).toEqual(
      Array(3).fill(['cosine', 'linear', 'constant']),
    );
    expect(a.tau).toMatchObject({ axis: 'width', from: 1, to: 4, tau: 1 });
    expect(a.winner).toEqual({
      flips: false,
      statement: 'cosine beats linear and constant at every width (64, 128 and 256); the gap stays about the same.',
    });
    // The query's target overrides the spec's.
    const at512 = (await h.inject(`/v1/sweeps/${sweepId}/transfer?targetWidth=512`)).json();
    expect(at512.width.target).toBe(512);
    expect(at512.laws[0].target.scale).toBe(8);
  }, 120_000);

  it('answers 409 for a sweep with no scale axis', async () => {
    const plain = await post('/v1/sweeps', { ...spec(), transfer: undefined });
    expect(plain.statusCode, plain.body).toBe(201);
    const r = await h.inject(`/v1/sweeps/${plain.json().id}/transfer`);
    expect(r.statusCode).toBe(409);
    expect(r.json().code).toBe('NOT_A_TRANSFER_STUDY');
  });

  it.each([
    ['an axis that does not exist', { width: { from: 'grid.config.depth' } }, 'transfer.width.from', "no axis 'depth'"],
    [
      'something that is no axis',
      { width: { from: 'model.width' } },
      'transfer.width.from',
      'use grid.scale or grid.config.<key>',
    ],
    [
      'a scale axis the sweep does not have',
      { width: { from: 'grid.scale' } },
      'transfer.width.from',
      'no grid.scale axis',
    ],
    [
      'a target length without a length axis',
      { width: { from: 'grid.config.width' }, target: { steps: 100 } },
      'transfer.target.steps',
      'length axis',
    ],
    ['no axis at all', { baseWidth: 64 }, 'transfer', 'name the axis'],
    ['a length axis without horizons', { length: { from: 'grid.horizon' } }, 'transfer.length.from', 'has none'],
  ])('refuses %s, naming the field', async (_, transfer, path, words) => {
    const r = await post('/v1/sweeps', spec({ transfer }));
    expect(r.statusCode).toBe(400);
    const issue = r.json().issues.find((i: { path: string }) => i.path === path);
    expect(issue, r.body).toBeDefined();
    expect(issue.message).toContain(words);
  });

  it('refuses grid.scale on an external runner (its width is a grid.config axis of its own)', async () => {
    const s = spec();
    const r = await post('/v1/sweeps', { ...s, grid: { ...s.grid, scale: [1, 2] } });
    expect(r.statusCode).toBe(400);
    expect(r.json().issues).toContainEqual(
      expect.objectContaining({ path: 'grid.scale', message: expect.stringContaining('grid.config axis') }),
    );
  });

  it('refuses a width axis that holds anything but positive numbers', async () => {
    const s = spec();
    const r = await post('/v1/sweeps', { ...s, grid: { ...s.grid, config: { width: [64, 'wide'] } } });
    expect(r.statusCode).toBe(400);
    expect(r.json().issues).toContainEqual(
      expect.objectContaining({ path: 'grid.config.width', message: expect.stringContaining('positive numbers') }),
    );
  });
});
