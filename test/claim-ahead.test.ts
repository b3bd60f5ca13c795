// A slot claims its next trial in the current one's last moments (WORKER_CLAIM_AHEAD_MS), so the
// claim overlaps training instead of following it; the next trial still trains only once the
// slot's process is done with the last, and every trial trains once, whole.
import { type FaultStack, query, startFaultStack, tinySpec } from '@lrsweep/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Row {
  id: string;
  status: string;
  attempt: number;
  started_at: Date;
  training_started_at: Date;
  train_ms: number;
  updates: number;
}

describe('claiming ahead', () => {
  let stack: FaultStack;
  beforeAll(async () => {
    // 40 updates of at least 25 ms: about a second a trial; the next is claimed ~100 ms before the end.
    stack = await startFaultStack('claim-ahead', { env: { LRSWEEP_TEST_STEP_MS: '25' } });
    await stack.worker('ahead-1', { WORKER_SLOTS: '1', WORKER_CLAIM_AHEAD_MS: '100' });
  }, 120_000);
  afterAll(async () => stack?.stop());

  it('claims the next trial before the last one is done, and trains it after', async () => {
    const created = await stack.api.post(
      '/v1/sweeps',
      tinySpec({
        name: 'ahead',
        dataset: { trainSize: 220, validationSize: 20 },
        training: { epochs: 4, batchSize: 20, evalEvery: 20 },
        grid: { seeds: 4 },
      }),
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const sweep = await stack.api.waitForSweep(created.body.id, 120_000);
    expect(sweep.status).toBe('completed');
    const rows = await query<Row>(
      stack.db.url,
      `SELECT t.id, t.status::text AS status, t.attempt, t.started_at, t.training_started_at, t.train_ms,
              (SELECT count(*)::int FROM update_metrics u WHERE u.trial_id = t.id) AS updates
         FROM trials t WHERE t.sweep_id = $1 ORDER BY t.started_at`,
      [created.body.id],
    );
    expect(rows).toHaveLength(4);
    for (const r of rows) expect(r).toMatchObject({ status: 'completed', attempt: 1, updates: 40 });
    for (let i = 1; i < rows.length; i++) {
      const prev = rows[i - 1]!;
      const next = rows[i]!;
      const prevDone = prev.training_started_at.getTime() + prev.train_ms;
      // Claimed while the last one still trained (its last updates and final evaluations)…
      expect(next.started_at.getTime(), `trial ${i + 1} claimed before trial ${i} was done`).toBeLessThan(prevDone);
      // …and trained only once the slot's process was done with it.
      expect(next.training_started_at.getTime()).toBeGreaterThanOrEqual(prevDone);
    }
  }, 180_000);
});
