import { type ClaimedTrial, renewLease } from '@lrsweep/engine';
import type { Logger } from 'pino';
import type { TrialRunnerDeps } from './run-trial';

/**
 * Keeps a claimed attempt's lease from its claim on, through its preparation (a dataset to load,
 * a backend to probe in a trainer process just started) and its training: renewed every third of
 * a lease. The attempt is lost when a renewal finds another attempt (or a cancel) holding the
 * trial, or when no renewal got through for a whole lease (cut off from Postgres: the lease has
 * lapsed and another worker may own the trial). `onLost` and `onTick` are the trainer's to set.
 */
export function keepLease(d: TrialRunnerDeps, claimed: ClaimedTrial, log: Logger) {
  const { trialId, attempt } = claimed;
  let lost = false;
  let whenLost: () => void = () => {};
  let tick: () => void = () => {};
  // When the lease was last known to hold: the start of the last renewal Postgres confirmed.
  let heldSince = Date.now();
  const lose = () => {
    lost = true;
    whenLost();
  };
  const timer = setInterval(
    () => {
      const asked = Date.now();
      renewLease(d.db, trialId, attempt, d.leaseMs)
        .then((ok) => (ok ? (heldSince = Math.max(heldSince, asked)) : lose()))
        .catch((err) => log.warn({ err }, 'lease renewal failed'));
      if (!lost && Date.now() - heldSince > d.leaseMs) {
        log.warn(
          { sinceMs: Date.now() - heldSince },
          'the lease could not be renewed for a whole lease; stopping this attempt (another worker takes the trial over)',
        );
        lose();
      }
      tick();
    },
    Math.max(100, Math.floor(d.leaseMs / 3)),
  );
  return {
    get lost() {
      return lost;
    },
    lose,
    /** What to do once the attempt is lost (stop its training). */
    onLost(f: () => void) {
      whenLost = f;
    },
    /** What to do at each renewal (see whether the worker is shutting down). */
    onTick(f: () => void) {
      tick = f;
    },
    stop: () => clearInterval(timer),
  };
}
export type Lease = ReturnType<typeof keepLease>;
