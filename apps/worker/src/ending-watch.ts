/**
 * Says once that the trial is about to end: when its remaining updates, at the pace of those done
 * so far in this attempt, fit in `aheadMs` (at its last update at the latest). The worker then
 * claims the slot's next trial while this one trains its last updates and final evaluations.
 * `after`: updates the attempt trains once its main loop is done (an ASHA rung's cooldown side
 * branch); they count as left, and when they alone do not fit in `aheadMs` nothing is said.
 */
export function endingWatch(
  ending: { endsAfter: number; aheadMs: number; after?: number } | undefined,
  say: () => void,
  now: () => number = () => performance.now(),
): (step: number) => void {
  if (!ending) return () => {};
  let first: { step: number; at: number } | null = null;
  let said = false;
  return (step) => {
    if (said) return;
    const t = now();
    first ??= { step, at: t };
    const left = ending.endsAfter - 1 - step + (ending.after ?? 0);
    const perUpdate = step > first.step ? (t - first.at) / (step - first.step) : Number.POSITIVE_INFINITY;
    if (left <= 0 || left * perUpdate <= ending.aheadMs) {
      said = true;
      say();
    }
  };
}
