// Where an attempt's time goes, phase by phase, for its 'trial finished' log line.

/**
 * Where an attempt's time went, in ms (the 'trial finished' log line carries it): handOff (from
 * the slot's previous trial handing it back to this delivery: the queue), claim, prepare (data,
 * model files, checkpoint), start (until the thread chose its backend), runInfo (beside
 * training), train (until the thread's result arrived); then, beside the slot's next trial,
 * close (the last metric rows) and finish (the trial's end recorded).
 */
export type Phases = Record<string, number>;
export async function timed<T>(phases: Phases, name: string, f: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await f();
  } finally {
    phases[name] = (phases[name] ?? 0) + performance.now() - t;
  }
}
export const rounded = (phases: Phases) =>
  Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, Math.round(v * 10) / 10]));
