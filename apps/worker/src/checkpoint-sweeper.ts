import { liveTrialStatuses } from '@lrsweep/contract';
import type { Db } from '@lrsweep/db';
import type { Logger } from 'pino';
import type { CheckpointFiles } from './checkpoint-files';

/** A checkpoint file younger than this may be one a worker is writing or about to record. */
const settleMs = 10 * 60_000;
/**
 * A folder this database has never heard of is left alone this long: it may be a trial another
 * deployment (or a restored copy of this database) is writing, or one recorded a moment from now.
 */
export const unknownFolderMs = 7 * 24 * 3600_000;

const trialFolder = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * No checkpoint outlives its trial, and no deployment touches another's: `files` is this
 * deployment's namespace (CHECKPOINT_DIR/<deployment id>), and nothing outside it is looked at.
 * Inside it, removes
 * - the folders of trials that have ended (completed, failed, diverged, cancelled, pruned) or whose
 *   sweep was deleted (a tombstone says so);
 * - folders no trial of this database has ever had, once their youngest file is 7 days old;
 * - in the folders of live trials, every file older than ten minutes that is not the trial's
 *   recorded checkpoint (a superseded attempt's, a partial write a crash left).
 * Any worker of the deployment may run it.
 */
export async function sweepCheckpoints(
  db: Db,
  files: CheckpointFiles,
  log: Logger,
): Promise<{ removedTrials: number; removedFiles: number }> {
  const folders = (await files.list()).filter((f) => trialFolder.test(f.trialId));
  if (!folders.length) {
    log.debug({ folders: 0, namespace: files.dir }, 'checkpoints swept');
    return { removedTrials: 0, removedFiles: 0 };
  }
  const ids = folders.map((f) => f.trialId);
  const [known, deleted] = await Promise.all([
    db.trial.findMany({ where: { id: { in: ids } }, select: { id: true, status: true, checkpointPath: true } }),
    db.trialTombstone.findMany({ where: { trialId: { in: ids } }, select: { trialId: true } }),
  ]);
  const trials = new Map(known.map((t) => [t.id, t]));
  const tombstoned = new Set(deleted.map((t) => t.trialId));
  let removedTrials = 0;
  let removedFiles = 0;
  for (const f of folders) {
    const trial = trials.get(f.trialId);
    const live = trial !== undefined && liveTrialStatuses.includes(trial.status);
    const gone = trial ? !live : tombstoned.has(f.trialId) || f.ageMs > unknownFolderMs;
    if (gone) {
      await files.removeTrial(f.trialId);
      removedTrials++;
      continue;
    }
    if (!live) continue;
    for (const file of f.files) {
      if (!files.same(trial.checkpointPath, file.path) && file.ageMs > settleMs) {
        await files.remove(file.path);
        removedFiles++;
      }
    }
  }
  if (removedTrials || removedFiles) {
    log.info({ removedTrials, removedFiles, namespace: files.dir }, 'removed checkpoints no trial needs');
  }
  log.debug({ folders: folders.length, removedTrials, removedFiles, namespace: files.dir }, 'checkpoints swept');
  return { removedTrials, removedFiles };
}
