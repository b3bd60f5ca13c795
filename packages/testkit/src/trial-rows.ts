import { query } from './databases';

/** A trial's stored series, in step order. */
export async function trialSeries(url: string, trialId: string) {
  const updates = await query<{ step: number; lr: number; train_loss: number; attempt: number }>(
    url,
    'SELECT step, lr, train_loss, attempt FROM update_metrics WHERE trial_id = $1 ORDER BY step',
    [trialId],
  );
  const evals = await query<{ step: number; val_loss: number; val_acc: number; attempt: number }>(
    url,
    'SELECT step, val_loss, val_acc, attempt FROM evaluations WHERE trial_id = $1 ORDER BY step',
    [trialId],
  );
  const [trial] = await query<{
    status: string;
    attempt: number;
    failures: number;
    error_code: string | null;
    final_val_loss: number;
    final_val_acc: number;
    best_val_loss: number;
    final_train_loss: number;
    checkpoint_step: number | null;
  }>(
    url,
    'SELECT status, attempt, failures, error_code, final_val_loss, final_val_acc, best_val_loss, final_train_loss, checkpoint_step FROM trials WHERE id = $1',
    [trialId],
  );
  return { updates, evals, trial: trial! };
}

/**
 * What two runs of the same spec must share bit for bit: every update's rate and loss, every
 * evaluation (which attempt wrote a row is left out).
 */
export const learningSeries = (s: Awaited<ReturnType<typeof trialSeries>>) => ({
  updates: s.updates.map(({ step, lr, train_loss }) => ({ step, lr, train_loss })),
  evals: s.evals.map(({ step, val_loss, val_acc }) => ({ step, val_loss, val_acc })),
});

/** Polls until `f` returns something truthy. */
export async function eventually<T>(
  what: string,
  f: () => Promise<T | null | undefined | false>,
  timeoutMs = 60_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
