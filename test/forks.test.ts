// Forked cooldowns (the schedule-aware search issue): a WSD sweep over horizons runs one trunk per
// base LR and seed (its longest horizon) and forks each shorter horizon's cooldown from the trunk's
// checkpoint at that horizon's decay start. The worker running the trunk is killed (kill -9) while
// forks still wait; every forked horizon must still equal, update by update and bit for bit, an
// independent run of the same spec at that horizon, and the sweep must train only the longest
// horizon plus the shorter ones' cooldowns.
import {
  eventually,
  type FaultStack,
  learningSeries,
  query,
  type RunningProcess,
  startFaultStack,
  trialSeries,
} from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const horizons = [60, 150, 300];
// 600 samples train (60 validate), batch 50: 12 updates an epoch; a 5-update warmup, then the last
// 20% of the rest decays: from update 49 (T=60), 121 (T=150) and 241 (T=300).
const spec = (name: string, horizon: number[]) => ({
  name,
  dataset: { name: 'mnist', trainSize: 660, validationSize: 60, testSize: 100 },
  model: { kind: 'mlp', hidden: [256], dropout: 0.1 },
  optimizer: { kind: 'adam' },
  training: { epochs: 1, batchSize: 50, evalEvery: 10 },
  grid: {
    horizon,
    baseLr: [0.002],
    schedule: [{ kind: 'wsd', decayFraction: 0.2, decayShape: '1-sqrt', warmup: { steps: 5 } }],
    seeds: [3],
  },
});
const forkAt: Record<number, number> = { 60: 49, 150: 121 };

interface TrialRow {
  id: string;
  total_steps: number;
  status: string;
  fork_step: number | null;
  fork_of: string | null;
  attempt: number;
  final_val_loss: number;
  best_val_loss: number;
  final_train_loss: number;
  auc_val_loss: number;
}

describe('forked cooldowns', () => {
  let stack: FaultStack;
  let db: FaultStack['db'];
  let api: FaultStack['api'];
  const worker = (id: string): Promise<RunningProcess> => stack.worker(id);
  const trialsOf = (sweepId: string) =>
    query<TrialRow>(
      db.url,
      'SELECT id, total_steps, status::text AS status, fork_step, fork_of, attempt, final_val_loss, best_val_loss, final_train_loss, auc_val_loss FROM trials WHERE sweep_id = $1 ORDER BY total_steps',
      [sweepId],
    );

  beforeAll(async () => {
    stack = await startFaultStack('forks');
    ({ db, api } = stack);
  }, 60_000);
  afterAll(async () => stack?.stop());

  it('forks each horizon from the trunk, survives kill -9 of the trunk’s worker, and equals independent runs bit for bit', async () => {
    // The plan, before anything runs: one trunk, two forks, 300 + 11 + 29 updates instead of 510.
    const plan = { trunks: 1, forks: 2, updates: 300 + 11 + 29, independentUpdates: 510 };
    const check = await api.post('/v1/sweeps/validate', spec('forked', horizons));
    expect(check.body).toMatchObject({ valid: true, trialCount: 3, totalUpdates: 510, forks: plan });

    const victim = await worker('victim');
    const created = await api.post('/v1/sweeps', spec('forked', horizons));
    expect(created.status).toBe(201);
    const sweepId = created.body.id as string;
    expect((await api.get(`/v1/sweeps/${sweepId}`)).body.forks).toEqual(plan);
    const before = await trialsOf(sweepId);
    const trunk = before.find((t) => t.total_steps === 300)!;
    expect(before.filter((t) => t.fork_step !== null).map((t) => [t.total_steps, t.fork_step])).toEqual([
      [60, 49],
      [150, 121],
    ]);
    // Forks wait (queued, counted as queued) until the trunk reaches them.
    expect(before.slice(0, 2).map((t) => t.status)).toEqual(['queued', 'queued']);

    // Kill the trunk's worker once it has a checkpoint, while it still trains.
    await eventually(
      'the trunk checkpointed',
      async () => {
        const [t] = await query<{ checkpoint_step: number | null; status: string }>(
          db.url,
          'SELECT checkpoint_step, status::text AS status FROM trials WHERE id = $1',
          [trunk.id],
        );
        return t!.checkpoint_step !== null && t!.status === 'running';
      },
      60_000,
      20,
    );
    await victim.stop('SIGKILL');
    const [killedAt] = await query<{ status: string; checkpoint_step: number; attempt: number }>(
      db.url,
      'SELECT status::text AS status, checkpoint_step, attempt FROM trials WHERE id = $1',
      [trunk.id],
    );
    // Mid-trial: not ended. On a loaded machine the victim's lease may have lapsed just before the
    // kill (its trial then queued again, or re-claimed by it); either way the rescuer takes over.
    const victimSaid = victim.lines
      .filter((l) => Number(l.level) >= 40)
      .map((l) => JSON.stringify(l))
      .join('\n');
    expect(
      ['running', 'queued'],
      `the trunk at the kill: ${JSON.stringify(killedAt)}; the victim's warnings:\n${victimSaid}`,
    ).toContain(killedAt!.status);
    expect(killedAt!.checkpoint_step).toBeLessThan(300);

    const rescuer = await worker('rescuer');
    await api.waitForSweep(sweepId, 180_000);
    // Independent runs of the same spec at each horizon (one horizon each: nothing forks).
    const independent = new Map<number, TrialRow>();
    for (const h of horizons) {
      const s = await api.post('/v1/sweeps', spec(`independent-${h}`, [h]));
      await api.waitForSweep(s.body.id, 120_000);
      const [t] = await trialsOf(s.body.id);
      expect(t).toMatchObject({ status: 'completed', fork_step: null });
      independent.set(h, t!);
    }

    const after = await trialsOf(sweepId);
    expect(after.map((t) => t.status)).toEqual(['completed', 'completed', 'completed']);
    // The trunk's lost attempt was resumed from its checkpoint by another worker: the attempt
    // after the victim's last.
    const [ended] = await query<{ attempt: number; worker_id: string }>(
      db.url,
      'SELECT attempt, worker_id FROM trials WHERE id = $1',
      [trunk.id],
    );
    expect(ended!.attempt).toBeGreaterThan(killedAt!.attempt);
    expect(ended!.worker_id).toBe('rescuer');
    expect(rescuer.lines.find((l) => l.msg === 'resuming from checkpoint' && l.trialId === trunk.id)).toMatchObject({
      step: killedAt!.checkpoint_step,
    });
    for (const t of after) {
      const [mine, theirs] = await Promise.all([
        trialSeries(db.url, t.id),
        trialSeries(db.url, independent.get(t.total_steps)!.id),
      ]);
      expect(mine.updates).toHaveLength(t.total_steps);
      // Bit-identical: every update's rate and loss, every evaluation, and the summaries.
      expect(learningSeries(mine)).toEqual(learningSeries(theirs));
      const { final_val_loss, best_val_loss, final_train_loss, auc_val_loss } = independent.get(t.total_steps)!;
      expect({
        final_val_loss: t.final_val_loss,
        best_val_loss: t.best_val_loss,
        final_train_loss: t.final_train_loss,
        auc_val_loss: t.auc_val_loss,
      }).toEqual({
        final_val_loss,
        best_val_loss,
        final_train_loss,
        auc_val_loss,
      });
      if (t.id === trunk.id) continue;
      // A fork trained only its cooldown: its rows before the fork point are the trunk's (copied,
      // attempt 0), the rest its own attempt's.
      expect(t.fork_step).toBe(forkAt[t.total_steps]);
      expect(mine.updates.filter((u) => u.attempt === 0).map((u) => u.step)).toEqual([...Array(t.fork_step!).keys()]);
      expect(mine.updates.slice(t.fork_step!).every((u) => u.attempt >= 1)).toBe(true);
      // Its /metrics begin at update 0 with the trunk's rows.
      const m = (await api.get(`/v1/trials/${t.id}/metrics?limit=1000`)).body as {
        updates: { step: number }[];
        evals: { step: number }[];
      };
      expect(m.updates.map((u) => u.step)).toEqual([...Array(t.total_steps).keys()]);
      expect(m.evals[0]!.step).toBe(10);
    }
    // Trunks are not trials: the sweep counts its three horizons, and ranks them.
    const detail = (await api.get(`/v1/sweeps/${sweepId}`)).body;
    expect(detail.trialCount).toBe(3);
    expect(detail.forks).toEqual(plan);
  }, 300_000);

  it('forks a schedule given a cooldown the same way, bit for bit', async () => {
    // constant + a 1-sqrt cooldown over the last 15% (ceil: 9 and 18 updates): forks at 51 from the T=120 trunk.
    const cooled = (name: string, horizon: number[]) => ({
      ...spec(name, horizon),
      grid: {
        ...spec(name, horizon).grid,
        schedule: [{ kind: 'constant', cooldown: { fraction: 0.15, shape: '1-sqrt' } }],
      },
    });
    expect((await api.post('/v1/sweeps/validate', cooled('cooled', [60, 120]))).body.forks).toEqual({
      trunks: 1,
      forks: 1,
      updates: 120 + 9,
      independentUpdates: 180,
    });
    const created = await api.post('/v1/sweeps', cooled('cooled', [60, 120]));
    await api.waitForSweep(created.body.id, 120_000);
    const mine = await trialsOf(created.body.id);
    expect(mine.map((t) => [t.total_steps, t.status, t.fork_step])).toEqual([
      [60, 'completed', 51],
      [120, 'completed', null],
    ]);
    const alone = await api.post('/v1/sweeps', cooled('cooled-alone', [60]));
    await api.waitForSweep(alone.body.id, 120_000);
    const [theirs] = await trialsOf(alone.body.id);
    const [a, b] = await Promise.all([trialSeries(db.url, mine[0]!.id), trialSeries(db.url, theirs!.id)]);
    expect(learningSeries(a)).toEqual(learningSeries(b));
    expect(mine[0]!.final_val_loss).toBe(theirs!.final_val_loss);
  }, 180_000);
});
