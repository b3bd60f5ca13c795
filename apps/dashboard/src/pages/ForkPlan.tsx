import type { SweepDetail } from '@lrsweep/client';

type Forks = NonNullable<SweepDetail['forks']>;

/** A sweep's forked cooldowns: how many trunks carry how many forks, and the updates they save. */
export function ForkPlan({ forks }: { forks: Forks }) {
  const pct = Math.round((100 * forks.updates) / forks.independentUpdates);
  return (
    <p
      className="muted"
      data-testid="fork-plan"
      title="Each shorter horizon of a warmup-stable-decay schedule starts from its longest horizon's checkpoint at its own decay start, and trains only its cooldown: the results are bit-identical to independent runs."
    >
      Forked cooldowns: {forks.trunks} trunk{forks.trunks === 1 ? '' : 's'} carry {forks.forks} fork
      {forks.forks === 1 ? '' : 's'}, <b>{forks.updates}</b> updates instead of {forks.independentUpdates} ({pct}%).
    </p>
  );
}
