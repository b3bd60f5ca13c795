import type { Db } from '@lrsweep/db';
import type { Logger } from 'pino';
import type { CheckpointFiles } from './checkpoint-files';

/** A checkpoint file younger than this may be one a worker is writing or about to record. */
const settleMs = 10 * 60_000;

/**
 * No checkpoint outlives its trial: removes the folders of trials that have ended (completed,
 * failed, diverged, cancelled, pruned) or no longer exist, and, in the folders of live trials,
 * every file older than ten minutes that is not the trial's recorded checkpoint (a superseded
 * attempt's, a partial write a crash left). Any worker may run it: the folder is the fleet's.
 */
export async function sweepCheckpoints(
  db: Db,
  files: CheckpointFiles,
  log: Logger,
): Promise<{ removedTrials: number; removedFiles: number }> {
  const folders = (await files.list()).filter((f) => /^[0-9a-f-]{36}$/.test(f.trialId));
  if (!folders.length) return { removedTrials: 0, removedFiles: 0 };
  const live = await db.trial.findMany({
    where: { id: { in: folders.map((f) => f.trialId) }, status: { in: ['queued', 'running'] } },
    select: { id: true, checkpointPath: true },
  });
  const recorded = new Map(live.map((t) => [t.id, t.checkpointPath]));
  let removedTrials = 0;
  let removedFiles = 0;
  for (const f of folders) {
    if (!recorded.has(f.trialId)) {
      await files.removeTrial(f.trialId);
      removedTrials++;
      continue;
    }
    for (const file of f.files) {
      if (file.path !== recorded.get(f.trialId) && file.ageMs > settleMs) {
        await files.remove(file.path);
        removedFiles++;
      }
    }
  }
  if (removedTrials || removedFiles) log.info({ removedTrials, removedFiles }, 'removed checkpoints no trial needs');
  return { removedTrials, removedFiles };
}
