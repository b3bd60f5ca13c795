import type { Logger } from 'pino';
import { TrainingSlot } from './training-slot';

/** The process's training slots: one thread each, handed to one trial at a time. */
export function createSlotPool(size: number, backend: string, log: Logger) {
  const all = Array.from({ length: size }, (_, i) => new TrainingSlot(backend, log.child({ slot: i })));
  const free = [...all];
  const waiting: ((s: TrainingSlot) => void)[] = [];
  return {
    async start() {
      await Promise.all(all.map((s) => s.start()));
    },
    acquire(): Promise<TrainingSlot> {
      const s = free.pop();
      return s ? Promise.resolve(s) : new Promise((resolve) => waiting.push(resolve));
    },
    release(s: TrainingSlot) {
      const next = waiting.shift();
      if (next) next(s);
      else free.push(s);
    },
    get backend() {
      return all[0]?.backend ?? null;
    },
    async close() {
      await Promise.all(all.map((s) => s.close()));
    },
  };
}
