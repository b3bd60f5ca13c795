import { numericsBackendOf } from '@lrsweep/contract';
import type { Db } from './create-db';
import type { SweepView } from './sweep-store';

/**
 * Why a built-in sweep's waiting trials cannot run, or null: no live built-in worker of its pool
 * (one heard from within `lostAfterMs`) can train under its numerics key or, before it has one,
 * is of the backend its spec asks for. Reads the workers only when trials wait on such a need.
 */
export async function unrunnableReason(db: Db, s: SweepView, lostAfterMs: number): Promise<string | null> {
  const asked = (s.spec as { training?: { backend?: string } } | null)?.training?.backend ?? 'auto';
  const waiting = s.counts.queued;
  if ((!s.numerics && asked === 'auto') || waiting === 0) return null;
  const live = await db.$queryRaw<{ numerics: string[] | null }[]>`
    SELECT numerics FROM workers
     WHERE kind = 'worker' AND stopped_at IS NULL AND last_heartbeat_at > now() - ${lostAfterMs} * interval '1 millisecond'
       AND ${s.pool} = ANY(string_to_array(pool, ','))`;
  const key = s.numerics?.id;
  const can = (k: string) => (key ? k === key : numericsBackendOf(k) === asked);
  if (live.some((w) => w.numerics?.some(can))) return null;
  if (live.length === 0) return `${waiting} trial(s) wait and no live worker serves pool '${s.pool}'`;
  const offered = [...new Set(live.flatMap((w) => w.numerics ?? []))];
  const what = key ? 'this sweep’s numerics key' : `the ${asked} backend its spec asks for`;
  return `${waiting} trial(s) wait and none of the ${live.length} live worker(s) of pool '${s.pool}' can train under ${what} (they offer: ${offered.join('; ') || 'nothing registered'}): start a worker that can (the same backend, versions and TensorFlow settings: TF_THREADS, TF_ENABLE_ONEDNN_OPTS, LRSWEEP_FUSED_OPS)`;
}
