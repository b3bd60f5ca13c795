import type { SweepSummary } from '@lrsweep/client';

const parts = ['completed', 'pruned', 'diverged', 'failed', 'cancelled', 'running', 'queued'] as const;

/** A stacked bar of trial states. */
export function Progress({ counts }: { counts: SweepSummary['counts'] }) {
  return (
    <div className="progress" title={parts.map((p) => `${counts[p]} ${p}`).join(', ')}>
      {parts.map((p) => (counts[p] ? <span key={p} className={p} style={{ flexGrow: counts[p] }} /> : null))}
    </div>
  );
}
