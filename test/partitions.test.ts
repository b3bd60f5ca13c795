// A host drops off the network (the fleet issue): two workers, each in a network namespace of its
// own joined to this one by a veth pair, reach a Postgres and a Redis of the test's own on the
// host side. One host's link is cut mid-trial for longer than the lease (packets dropped, no
// reset: connections hang, as when a node drops off), then healed. The trial moves to the other
// host and resumes from its checkpoint; the cut-off worker stops it and none of its late writes
// land; nothing is lost or doubled; after healing the cut-off worker takes new work.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '@lrsweep/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiClient,
  bootstrapToken,
  createNetnsHost,
  eventually,
  netnsSupport,
  query,
  type RunningProcess,
  startApi,
  startOwnPostgres,
  startOwnRedis,
  startWorker,
  trialSeries,
  tinySpec,
} from '@lrsweep/testkit';

const support = netnsSupport();
// Never a silent skip: the summary says why it did not run.
if (support !== true) console.warn(`partitions: not run here (${support})`);

const spec = (name: string, seeds: number[]) =>
  tinySpec({
    name,
    dataset: { trainSize: 2200, validationSize: 200, testSize: 300 },
    model: { hidden: [256] },
    optimizer: { kind: 'adam' },
    training: { epochs: 4, batchSize: 20, evalEvery: 25 },
    grid: { baseLr: [0.001], schedule: [{ kind: 'cosine', warmup: { steps: 20 } }], seeds },
  });
const T = 400;
const LEASE_MS = 3000;

describe.skipIf(support !== true)('a partition between hosts', () => {
  const tag = randomBytes(2).toString('hex');
  const net = 200 + Math.floor(Math.random() * 50);
  let hosts: ReturnType<typeof createNetnsHost>[] = [];
  let pg: Awaited<ReturnType<typeof startOwnPostgres>>;
  let redis: Awaited<ReturnType<typeof startOwnRedis>>;
  const checkpointDir = mkdtempSync(join(tmpdir(), 'lrsweep-ckpt-'));
  const procs: RunningProcess[] = [];
  let api: ReturnType<typeof apiClient>;
  let dbUrl: string;
  let workerEnv: (host: ReturnType<typeof createNetnsHost>) => Record<string, string>;

  beforeAll(async () => {
    hosts = [createNetnsHost(tag, net, 1), createNetnsHost(tag, net, 2)];
    pg = await startOwnPostgres({ listen: hosts.map((h) => h.hostIp), trustFrom: `10.${net}.0.0/16` });
    redis = await startOwnRedis({ bind: hosts.map((h) => h.hostIp) });
    dbUrl = pg.url('lrsweep');
    await migrate({ url: dbUrl });
    const common = {
      LRSWEEP_BOOTSTRAP_TOKEN: bootstrapToken,
      CHECKPOINT_DIR: checkpointDir,
      CHECKPOINT_EVERY: '20',
      LEASE_MS: String(LEASE_MS),
      LOCK_DURATION_MS: String(LEASE_MS),
      STALLED_INTERVAL_MS: '1000',
      METRICS_FLUSH_MS: '100',
      RECONCILE_INTERVAL_MS: '1000',
      WORKER_HEARTBEAT_MS: '500',
    };
    const a = await startApi({ ...common, DATABASE_URL: dbUrl, REDIS_URL: redis.url });
    procs.push(a);
    api = apiClient(a.url, bootstrapToken);
    // Each worker reaches the services through its own link only.
    workerEnv = (h) => ({
      ...common,
      DATABASE_URL: `postgresql://postgres@${h.hostIp}:${pg.port}/lrsweep`,
      REDIS_URL: `redis://${h.hostIp}:${redis.port}`,
    });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    for (const h of hosts) h.destroy();
    await redis?.stop().catch(() => {});
    await pg?.destroy();
    rmSync(checkpointDir, { recursive: true, force: true });
  });

  it('moves a cut-off host’s trial to another host, refuses the late writes, and the healed host works on', async () => {
    const [hostA, hostB] = hosts as [ReturnType<typeof createNetnsHost>, ReturnType<typeof createNetnsHost>];
    const a = await startWorker({ ...workerEnv(hostA), WORKER_ID: 'host-a' }, { netns: hostA.ns });
    procs.push(a);
    const created = await api.post('/v1/sweeps', spec('partitioned', [7]));
    expect(created.status).toBe(201);
    const sweepId = created.body.id as string;
    const [trial] = (await api.get(`/v1/sweeps/${sweepId}/trials`)).body.trials as { id: string }[];
    const trialId = trial!.id;
    // Host A trains it and has checkpointed; then its link goes down.
    await eventually('a checkpoint on host A', async () => {
      const [t] = await query<{ checkpoint_step: number | null; worker_id: string | null }>(
        dbUrl,
        'SELECT checkpoint_step, worker_id FROM trials WHERE id = $1',
        [trialId],
      );
      return t!.worker_id === 'host-a' && (t!.checkpoint_step ?? 0) >= 60 ? t : null;
    });
    hostA.cut();
    const cutAt = Date.now();
    const [{ max: lastBeforeCut }] = (await query<{ max: number }>(
      dbUrl,
      'SELECT max(step)::int AS max FROM update_metrics WHERE trial_id = $1',
      [trialId],
    )) as [{ max: number }];

    // Host B comes up: once A's lease lapses, B takes the trial over and resumes it.
    const b = await startWorker({ ...workerEnv(hostB), WORKER_ID: 'host-b' }, { netns: hostB.ns });
    procs.push(b);
    const resumed = await b.waitFor((l) => l.msg === 'trial finished' && l.trialId === trialId, 120_000);
    expect(Number(resumed.resumedFrom)).toBeGreaterThanOrEqual(60);
    // A stopped the attempt on its own: it could not renew its lease for a whole lease.
    await a.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('the lease could not be renewed'), 30_000);
    // The cut lasts well past the lease; then the link heals and A's hung connections resume.
    await new Promise((r) => setTimeout(r, Math.max(0, cutAt + 4 * LEASE_MS - Date.now())));
    hostA.heal();
    await a.waitFor((l) => typeof l.msg === 'string' && /no longer this attempt/.test(l.msg), 60_000);

    await api.waitForSweep(sweepId, 60_000);
    const s = await trialSeries(dbUrl, trialId);
    expect(s.trial).toMatchObject({ status: 'completed', attempt: 2, failures: 1 });
    // Every update once, gap-free; the rows past B's resume point are B's (A's late writes refused).
    expect(s.updates.map((u) => u.step)).toEqual([...Array(T).keys()]);
    expect(s.updates.slice(Number(resumed.resumedFrom)).every((u) => u.attempt === 2)).toBe(true);
    expect(s.updates.filter((u) => u.attempt === 1).every((u) => u.step <= lastBeforeCut)).toBe(true);
    expect(s.evals.map((e) => e.step)).toEqual([...Array(T / 25).keys()].map((k) => (k + 1) * 25));
    const attempts = await query<{ attempt: number; worker_id: string; outcome: string }>(
      dbUrl,
      'SELECT attempt, worker_id, outcome FROM trial_attempts WHERE trial_id = $1 ORDER BY attempt',
      [trialId],
    );
    expect(attempts.map((x) => [x.attempt, x.worker_id])).toEqual([
      [1, 'host-a'],
      [2, 'host-b'],
    ]);

    // Healed, A carries on: with B gone, A alone trains the next sweep.
    await b.stop();
    const next = await api.post('/v1/sweeps', {
      ...spec('after-healing', [1]),
      training: { epochs: 1, batchSize: 50, evalEvery: 20 },
    });
    expect(next.status).toBe(201);
    await api.waitForSweep(next.body.id, 120_000);
    const ran = await query<{ worker_id: string; status: string }>(
      dbUrl,
      'SELECT a.worker_id, t.status::text AS status FROM trial_attempts a JOIN trials t ON t.id = a.trial_id WHERE t.sweep_id = $1',
      [next.body.id],
    );
    expect(ran).toEqual([{ worker_id: 'host-a', status: 'completed' }]);
  }, 300_000);
});
