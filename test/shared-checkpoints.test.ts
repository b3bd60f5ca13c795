// Two deployments (two databases, two queues) whose workers share one CHECKPOINT_DIR, as two
// stacks on one shared volume do: each keeps its checkpoints in its own namespace, so neither's
// sweeper deletes the other's running trials' files, and a worker killed with kill -9 is resumed
// at its checkpoint step, not from update 0.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiClient,
  bootstrapToken,
  createTestDatabase,
  deletePrefix,
  eventually,
  faultTestEnv,
  query,
  type RunningProcess,
  startApi,
  startWorker,
  type TestDatabase,
  trialSeries,
  uniquePrefix,
  tinySpec,
} from '@lrsweep/testkit';

const spec = (name: string) =>
  tinySpec({
    name,
    dataset: { trainSize: 2200, validationSize: 200, testSize: 300 },
    model: { hidden: [128] },
    optimizer: { kind: 'adam' },
    training: { epochs: 30, batchSize: 20, evalEvery: 100 },
    grid: { baseLr: [0.001], schedule: [{ kind: 'cosine' }], seeds: [3] },
  });
// Long enough that neither trial can finish while the other stack's worker is still starting on
// a loaded CI machine (at 1000 updates one did, and the kill found no checkpoint to resume from).
const T = 3000;

interface Stack {
  name: string;
  db: TestDatabase;
  prefix: string;
  env: Record<string, string>;
  api: ReturnType<typeof apiClient>;
  worker?: RunningProcess;
  sweepId?: string;
  trialId?: string;
}

describe('two deployments sharing one checkpoint directory', () => {
  const checkpointDir = mkdtempSync(join(tmpdir(), 'lrsweep-shared-ckpt-'));
  const procs: RunningProcess[] = [];
  const stacks: Stack[] = [];

  const startStackWorker = async (s: Stack, id: string) => {
    // The sweeper runs every 300 ms here (10 minutes by default) and says so at debug level.
    const w = await startWorker({ ...s.env, WORKER_ID: id, CHECKPOINT_SWEEP_MS: '300', LOG_LEVEL: 'debug' });
    procs.push(w);
    s.worker = w;
    return w;
  };
  const sweeps = (w: RunningProcess) => w.lines.filter((l) => l.msg === 'checkpoints swept').length;
  const recorded = async (s: Stack) =>
    query<{ id: string; checkpoint_path: string; checkpoint_step: number }>(
      s.db.url,
      'SELECT id, checkpoint_path, checkpoint_step FROM trials WHERE checkpoint_path IS NOT NULL',
    );
  const namespace = async (s: Stack) =>
    (await query<{ id: string }>(s.db.url, 'SELECT id::text AS id FROM deployment'))[0]!.id;

  beforeAll(async () => {
    for (const name of ['a', 'b']) {
      const db = await createTestDatabase(`shck${name}`);
      const prefix = uniquePrefix();
      const env = faultTestEnv({ databaseUrl: db.url, prefix, checkpointDir, checkpointEvery: 20 });
      const api = await startApi(env);
      procs.push(api);
      stacks.push({ name, db, prefix, env, api: apiClient(api.url, bootstrapToken) });
    }
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    for (const s of stacks) {
      await s.db.drop();
      await deletePrefix(s.prefix);
    }
    rmSync(checkpointDir, { recursive: true, force: true });
  });

  it('neither sweeper deletes the other deployment’s checkpoints; each killed trial resumes at its checkpoint', async () => {
    for (const s of stacks) await startStackWorker(s, `${s.name}-1`);
    for (const s of stacks) {
      const created = await s.api.post('/v1/sweeps', spec(`shared-${s.name}`));
      expect(created.status).toBe(201);
      s.sweepId = created.body.id;
      s.trialId = (await s.api.get(`/v1/sweeps/${s.sweepId}/trials`)).body.trials[0].id;
    }
    // Each deployment made its own namespace at its first worker's start.
    const [nsA, nsB] = [await namespace(stacks[0]!), await namespace(stacks[1]!)];
    expect(nsA).not.toBe(nsB);

    // Both trials are training and have checkpoints on disk...
    for (const s of stacks) {
      await eventually(
        `a checkpoint of stack ${s.name}`,
        async () => ((await recorded(s))[0]?.checkpoint_step ?? 0) >= 40,
        120_000,
        100,
      );
    }
    expect(readdirSync(checkpointDir).sort()).toEqual([nsA, nsB].sort());
    // ...while both sweepers run twice more.
    const before = stacks.map((s) => sweeps(s.worker!));
    await eventually('two sweeps by each worker', async () =>
      stacks.every((s, i) => sweeps(s.worker!) >= before[i]! + 2),
    );
    for (const s of stacks) {
      const ns = await namespace(s);
      // The trial goes on checkpointing (each new file recorded, then the last one removed): a file
      // is judged against a record that did not change while it was looked at.
      const missing = await eventually(`a steady record of stack ${s.name}`, async () => {
        const rows = await recorded(s);
        const gone = rows.filter((r) => !existsSync(join(checkpointDir, ns, r.checkpoint_path)));
        const again = await recorded(s);
        const steady = JSON.stringify(again) === JSON.stringify(rows);
        return steady && rows.length > 0 ? { rows, gone } : null;
      });
      for (const r of missing.rows) {
        // Stored relative to the namespace, so the directory can move.
        expect(r.checkpoint_path).toMatch(new RegExp(`^${r.id}/a\\d+-s\\d+\\.ckpt$`));
      }
      expect(missing.gone, `stack ${s.name}: recorded checkpoints missing on disk`).toEqual([]);
    }

    // kill -9 one worker per stack; what each trial recorded is where its successor must resume.
    for (const s of stacks) s.worker!.proc.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const at = new Map<string, number>();
    for (const s of stacks) {
      const [row] = await recorded(s);
      const state = await query<{ status: string; step: number }>(
        s.db.url,
        'SELECT t.status::text AS status, (SELECT max(step) FROM update_metrics m WHERE m.trial_id = t.id) AS step FROM trials t',
      );
      expect(row, `stack ${s.name}: a checkpoint recorded at the kill (trial ${JSON.stringify(state)})`).toBeDefined();
      at.set(s.name, row!.checkpoint_step);
    }
    for (const s of stacks) await startStackWorker(s, `${s.name}-2`);
    for (const s of stacks) {
      await s.api.waitForSweep(s.sweepId!, 180_000);
      const finished = await s.worker!.waitFor((l) => l.msg === 'trial finished' && l.trialId === s.trialId);
      // From the checkpoint recorded when its worker died (a later one, if a lease lapsed on a
      // loaded machine and the successor itself resumed again): never from update 0.
      expect(Number(finished.resumedFrom), `stack ${s.name}`).toBeGreaterThanOrEqual(at.get(s.name)!);
      expect(Number(finished.resumedFrom)).toBeGreaterThanOrEqual(40);
      const series = await trialSeries(s.db.url, s.trialId!);
      expect(series.trial.status).toBe('completed');
      expect(series.trial.attempt).toBeGreaterThanOrEqual(2);
      expect(series.updates.map((u) => u.step)).toEqual([...Array(T).keys()]);
    }
    // Two stacks, two workers and 3 000-update trials on a loaded 2-core machine: minutes, not seconds.
  }, 240_000);
});
