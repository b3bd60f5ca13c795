import { maxGridValues } from './spec-schema';

export interface RawIssue {
  path: PropertyKey[];
  message: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Thrown inside the expansion when the number of combinations passes the cap. */
class TooMany extends Error {}

/**
 * Expands one `grid.schedule` entry into its schedules: every scalar parameter given as a list
 * (also inside `warmup` and `sequential` parts) and `milestones` given as a list of lists yield one
 * schedule per combination. Stops with an issue once more than `cap` combinations would be made.
 */
export function expandScheduleEntry(entry: unknown, cap: number): { variants: unknown[]; issues: RawIssue[] } {
  const issues: RawIssue[] = [];
  try {
    const variants = expandObject(entry, [], issues, cap);
    return { variants: issues.length ? [] : variants, issues };
  } catch (e) {
    if (!(e instanceof TooMany)) throw e;
    return { variants: [], issues: [{ path: [], message: `expands into more than ${cap} schedules` }] };
  }
}

function expandObject(obj: unknown, path: PropertyKey[], issues: RawIssue[], cap: number): unknown[] {
  if (!isPlainObject(obj)) return [obj];
  let variants: Record<string, unknown>[] = [{}];
  for (const [key, value] of Object.entries(obj)) {
    const options = expandParam(key, value, [...path, key], issues, cap);
    if (variants.length * options.length > cap) throw new TooMany();
    variants = variants.flatMap((v) => options.map((o) => ({ ...v, [key]: o })));
  }
  return variants;
}

function expandParam(key: string, value: unknown, path: PropertyKey[], issues: RawIssue[], cap: number): unknown[] {
  if (key === 'kind') return [value];
  if (key === 'warmup') return expandObject(value, path, issues, cap);
  if (key === 'parts' && Array.isArray(value)) {
    let combos: unknown[][] = [[]];
    value.forEach((part, i) => {
      const options = expandObject(part, [...path, i], issues, cap);
      if (combos.length * options.length > cap) throw new TooMany();
      combos = combos.flatMap((c) => options.map((o) => [...c, o]));
    });
    return combos;
  }
  if (key === 'milestones') {
    const listOfLists = Array.isArray(value) && value.length > 0 && value.every(Array.isArray);
    return listOfLists ? checkedList(value, path, issues) : [value];
  }
  return Array.isArray(value) ? checkedList(value, path, issues) : [value];
}

function checkedList(values: unknown[], path: PropertyKey[], issues: RawIssue[]): unknown[] {
  if (values.length === 0) {
    issues.push({ path, message: 'the list is empty' });
    return [];
  }
  if (values.length > maxGridValues) {
    issues.push({ path, message: `at most ${maxGridValues} values` });
    return [];
  }
  const seen = new Set<string>();
  for (const v of values) {
    const k = JSON.stringify(v);
    if (seen.has(k)) issues.push({ path, message: `duplicate value ${k}` });
    seen.add(k);
  }
  return values;
}
