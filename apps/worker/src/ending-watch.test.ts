import { describe, expect, it } from 'vitest';
import { endingWatch } from './ending-watch';

/** Steps `from` … `to` at `ms` each on a fake clock; answers the step at which `ending` was said. */
function saidAt(
  ending: { endsAfter: number; aheadMs: number; after?: number } | undefined,
  from: number,
  to: number,
  ms: number,
) {
  let t = 0;
  const said: number[] = [];
  let step = from;
  const watch = endingWatch(
    ending,
    () => said.push(step),
    () => t,
  );
  for (; step <= to; step++) {
    t += ms;
    watch(step);
  }
  return said;
}

describe('endingWatch', () => {
  it('says it once, when the updates left fit in aheadMs at the pace so far', () => {
    // 100 updates of 10 ms, 100 ms ahead: said at update 89 (10 left × 10 ms).
    expect(saidAt({ endsAfter: 100, aheadMs: 100 }, 0, 99, 10)).toEqual([89]);
    // A resumed attempt (from update 50) paces itself on its own updates.
    expect(saidAt({ endsAfter: 100, aheadMs: 100 }, 50, 99, 10)).toEqual([89]);
  });

  it('says it at the last update at the latest (slow updates, 0 ahead, a one-update trial)', () => {
    expect(saidAt({ endsAfter: 20, aheadMs: 100 }, 0, 19, 1000)).toEqual([19]);
    expect(saidAt({ endsAfter: 20, aheadMs: 0 }, 0, 19, 5)).toEqual([19]);
    expect(saidAt({ endsAfter: 1, aheadMs: 100 }, 0, 0, 5)).toEqual([0]);
  });

  it('ends at a rung when the attempt pauses there, and says nothing without an end', () => {
    expect(saidAt({ endsAfter: 40, aheadMs: 50 }, 0, 39, 10)).toEqual([34]);
    // The rung's cooldown (3 updates) counts as left; a cooldown longer than aheadMs: nothing said.
    expect(saidAt({ endsAfter: 40, aheadMs: 50, after: 3 }, 0, 39, 10)).toEqual([37]);
    expect(saidAt({ endsAfter: 40, aheadMs: 50, after: 10 }, 0, 39, 10)).toEqual([]);
    expect(saidAt(undefined, 0, 99, 10)).toEqual([]);
  });
});
