import { numericsKeyId } from '@lrsweep/contract';
import type { Logger } from 'pino';
import { type SlotOptions, TrainingSlot } from './training-slot';

/**
 * The process's training slots: one trainer process each, handed to one trial at a time. `tryAcquire`
 * never waits: a delivery that finds every slot busy goes back to the queue for another worker.
 */
export function createSlotPool(size: number, backend: string, log: Logger, opts: SlotOptions = {}) {
  const all = Array.from({ length: size }, (_, i) => new TrainingSlot(backend, log.child({ slot: i }), opts));
  const free = [...all];
  const listeners = new Set<(freeSlots: number) => void>();
  const changed = () => listeners.forEach((f) => f(free.length));
  return {
    async start() {
      await Promise.all(all.map((s) => s.start()));
    },
    tryAcquire(): TrainingSlot | null {
      const s = free.pop() ?? null;
      if (s) changed();
      return s;
    },
    release(s: TrainingSlot) {
      s.idleSince = performance.now();
      free.push(s);
      changed();
    },
    /** Calls `f` with the number of free slots whenever it changes. */
    onChange(f: (freeSlots: number) => void) {
      listeners.add(f);
    },
    get free() {
      return free.length;
    },
    get size() {
      return all.length;
    },
    /** Slots whose thread cannot be started. */
    deadSlots: () => all.filter((s) => s.startError !== null).length,
    get backend() {
      return all[0]?.backend ?? null;
    },
    /** The numerics keys (ids) every slot can train under: what this worker claims (one process, one set of TF settings). */
    get numerics(): string[] {
      // From a slot whose thread has started (a dead slot knows none).
      return [...new Set((all.find((s) => s.numerics.length > 0)?.numerics ?? []).map(numericsKeyId))];
    },
    async close() {
      await Promise.all(all.map((s) => s.close()));
    },
  };
}
export type SlotPool = ReturnType<typeof createSlotPool>;
