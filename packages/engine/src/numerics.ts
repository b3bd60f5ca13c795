import { type NumericsKey, numericsKeyId, type SweepNumerics } from '@lrsweep/contract';
import type { Db } from '@lrsweep/db';
import { counting } from './counter';

/** A sweep's numerics key as stored on its row. */
export type RecordedNumerics = SweepNumerics;

/**
 * Records `key` as the sweep's numerics key if it has none yet (compare-and-set on the sweep row:
 * of workers proposing at once, one wins), and answers the key the sweep has now: this one, or
 * the one another worker recorded first, which every trial of the sweep then trains under.
 */
export async function settleSweepNumerics(
  db: Db,
  sweepId: string,
  proposal: { key: NumericsKey; reason: string; chosenBy: string },
): Promise<RecordedNumerics> {
  const mine: RecordedNumerics = {
    id: numericsKeyId(proposal.key),
    key: proposal.key,
    reason: proposal.reason,
    chosenBy: proposal.chosenBy,
    chosenAt: new Date().toISOString(),
  };
  const won = await counting(db).$queryRaw<{ numerics: RecordedNumerics }[]>`
    UPDATE sweeps SET numerics = ${JSON.stringify(mine)}::jsonb
     WHERE id = ${sweepId}::uuid AND numerics IS NULL RETURNING numerics`;
  if (won[0]) return won[0].numerics;
  // Lost: read the winner's in a statement of its own (one statement's snapshot may predate it).
  const rows = await counting(db).$queryRaw<{ numerics: RecordedNumerics | null }[]>`
    SELECT numerics FROM sweeps WHERE id = ${sweepId}::uuid`;
  const r = rows[0]?.numerics;
  if (!r) throw new Error(`sweep ${sweepId} is gone`);
  return r;
}

/**
 * The configs of a sweep's distinct model shapes (model, batch size, optimizer): the one whose key
 * is probed should be the largest (a grid.scale axis, or a config axis that changes widths), where
 * backends differ most. One row per shape, so a sweep of thousands of trials reads a handful.
 */
export async function sweepShapes(db: Db, sweepId: string): Promise<unknown[]> {
  const rows = await counting(db).$queryRaw<{ config: unknown }[]>`
    SELECT DISTINCT ON (config->'model', config->'training'->'batchSize', config->'optimizer'->'kind') config
      FROM trials WHERE sweep_id = ${sweepId}::uuid
     ORDER BY config->'model', config->'training'->'batchSize', config->'optimizer'->'kind', ordinal
     LIMIT 64`;
  return rows.map((r) => r.config);
}
