// A sweep through a real Redis Cluster (3 masters + 3 replicas on loopback), and the master that
// holds the queue's hash slot killed mid-sweep (the fleet issue): the queue's keys share one slot
// (hash-tagged prefix, per BullMQ's cluster guide), its replica takes over, and every trial
// completes exactly once, with every metric row once. Also: a master that may evict keys is
// reported at start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, type Stack, startOwnRedisCluster, startStack } from '@lrsweep/testkit';

type Cluster = Awaited<ReturnType<typeof startOwnRedisCluster>>;

const spec = {
  name: 'through-a-cluster',
  dataset: { name: 'synthetic', trainSize: 2048, testSize: 64 },
  model: { kind: 'mlp', hidden: [32] },
  training: { epochs: 3, batchSize: 32, evalEvery: 32 },
  grid: { baseLr: [0.003, 0.01, 0.03, 0.1], schedule: [{ kind: 'constant' }, { kind: 'cosine' }], seeds: 2 },
};

describe('Redis Cluster', () => {
  let cluster: Cluster;
  let stack: Stack;
  beforeAll(async () => {
    cluster = await startOwnRedisCluster();
    // One master that would evict keys: the processes must say so when they start.
    cluster.cli(cluster.ports[0]!, 'config', 'set', 'maxmemory-policy', 'allkeys-lru');
    stack = await startStack('cluster', {
      workers: 1,
      env: { REDIS_URL: cluster.url, WORKER_SLOTS: '2', RECONCILE_INTERVAL_MS: '1000' },
    });
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
    await cluster?.destroy();
  });

  it('warns at start when a master may evict queue keys', async () => {
    const line = await stack.workers[0]!.waitFor(
      (l) => typeof l.msg === 'string' && l.msg.includes('maxmemory-policy'),
      20_000,
    );
    expect(line.msg).toContain(`127.0.0.1:${cluster.ports[0]} has maxmemory-policy allkeys-lru`);
    cluster.cli(cluster.ports[0]!, 'config', 'set', 'maxmemory-policy', 'noeviction');
  });

  it('keeps every queue key in one hash slot, and survives a failover of its master mid-sweep with nothing lost or doubled', async () => {
    const created = await stack.lrsweep.submitSweep(spec as never);
    expect(created.trialCount).toBe(16);
    // Every key the queue wrote carries the hash tag, so BullMQ's multi-key scripts stay on one node.
    const tag = `{${stack.prefix}}`;
    const master = cluster.masterOf(tag);
    const queueKeys = (port: number) =>
      cluster.cli(port, '--scan', '--pattern', `*${stack.prefix}*`).split('\n').filter(Boolean);
    const keys = queueKeys(master);
    expect(keys.length).toBeGreaterThan(0);
    expect(
      keys.every((k) => k.startsWith(`${tag}:`)),
      keys.join(' '),
    ).toBe(true);
    // …and no queue key lives on another master.
    for (const port of cluster.ports.filter((p) => p !== master)) {
      if (/role:master/.test(cluster.cli(port, 'info', 'replication'))) expect(queueKeys(port)).toEqual([]);
    }

    // Mid-sweep: some trials done, most not.
    const done = async () =>
      (
        await query<{ n: number }>(
          stack.db.url,
          "SELECT count(*)::int AS n FROM trials WHERE sweep_id = $1 AND status = 'completed'",
          [created.id],
        )
      )[0]!.n;
    for (const deadline = Date.now() + 60_000; (await done()) < 2 && Date.now() < deadline; )
      await new Promise((r) => setTimeout(r, 100));
    const before = await done();
    expect(before).toBeGreaterThanOrEqual(2);
    expect(before).toBeLessThan(12);
    const { killed, promoted } = await cluster.failOver(tag);
    expect(promoted).not.toBe(killed);

    await stack.lrsweep.follow(created.id, () => {}, 250);
    const trials = await query<{
      status: string;
      attempt: number;
      updates: number;
      evals: number;
      attempts: number;
      total_steps: number;
    }>(
      stack.db.url,
      `SELECT t.status::text AS status, t.attempt, t.total_steps,
              (SELECT count(*)::int FROM update_metrics u WHERE u.trial_id = t.id) AS updates,
              (SELECT count(*)::int FROM evaluations e WHERE e.trial_id = t.id) AS evals,
              (SELECT count(*)::int FROM trial_attempts a WHERE a.trial_id = t.id) AS attempts
         FROM trials t WHERE t.sweep_id = $1`,
      [created.id],
    );
    expect(trials).toHaveLength(16);
    for (const t of trials) {
      expect(t.status).toBe('completed');
      // Trained once: one attempt, one row per update (the primary key forbids a second).
      expect(t.attempt).toBe(1);
      expect(t.attempts).toBe(1);
      expect(t.updates).toBe(t.total_steps);
      // An evaluation every 32 updates and one at the end.
      expect(t.evals).toBe(Math.ceil(t.total_steps / 32));
    }
    // The queue lives on, on the promoted master: a new sweep runs through it.
    const after = await stack.lrsweep.submitSweep({
      ...spec,
      name: 'after-failover',
      grid: { ...spec.grid, baseLr: [0.01], seeds: 1 },
    } as never);
    await stack.lrsweep.follow(after.id, () => {}, 250);
    expect((await stack.lrsweep.getSweep(after.id)).status).toBe('completed');
    expect(cluster.masterOf(tag)).toBe(promoted);
  }, 240_000);
});
