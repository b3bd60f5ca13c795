import { maxGridValues } from '@lrsweep/contract';

export interface RawIssue {
  path: PropertyKey[];
  message: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isListOfLists = (v: unknown): v is unknown[][] => Array.isArray(v) && v.length > 0 && v.every(Array.isArray);

/**
 * Walks one `grid.schedule` entry without expanding it: checks every list (empty, too long,
 * repeated values) and counts the schedules it makes. Any scalar parameter given as a list (also
 * inside `warmup` and `sequential` parts) multiplies the count, and so does `milestones` given
 * as a list of lists.
 */
export function scanScheduleEntry(entry: unknown, path: PropertyKey[] = []): { count: number; issues: RawIssue[] } {
  const issues: RawIssue[] = [];
  const count = scanObject(entry, path, issues);
  return { count, issues };
}

function scanObject(obj: unknown, path: PropertyKey[], issues: RawIssue[]): number {
  if (!isPlainObject(obj)) return 1;
  let n = 1;
  for (const [key, value] of Object.entries(obj)) {
    const at = [...path, key];
    if (key === 'kind') continue;
    if (key === 'warmup') n *= scanObject(value, at, issues);
    else if (key === 'parts' && Array.isArray(value)) value.forEach((p, i) => (n *= scanObject(p, [...at, i], issues)));
    else if (key === 'milestones') n *= isListOfLists(value) ? checkList(value, at, issues) : 1;
    else if (Array.isArray(value)) n *= checkList(value, at, issues);
  }
  return n;
}

function checkList(values: unknown[], path: PropertyKey[], issues: RawIssue[]): number {
  if (values.length === 0) issues.push({ path, message: 'the list is empty' });
  if (values.length > maxGridValues) issues.push({ path, message: `at most ${maxGridValues} values` });
  const seen = new Set<string>();
  for (const v of values) {
    const k = JSON.stringify(v);
    if (seen.has(k)) {
      issues.push({ path, message: `duplicate value ${k}` });
      break;
    }
    seen.add(k);
  }
  return Math.max(1, values.length);
}

/** Expands a scanned, issue-free entry into its schedules (one per combination of list values). */
export function expandScheduleEntry(entry: unknown): unknown[] {
  if (!isPlainObject(entry)) return [entry];
  let variants: Record<string, unknown>[] = [{}];
  for (const [key, value] of Object.entries(entry)) {
    const options = optionsOf(key, value);
    variants = variants.flatMap((v) => options.map((o) => ({ ...v, [key]: o })));
  }
  return variants;
}

function optionsOf(key: string, value: unknown): unknown[] {
  if (key === 'kind') return [value];
  if (key === 'warmup') return expandScheduleEntry(value);
  if (key === 'parts' && Array.isArray(value)) {
    let combos: unknown[][] = [[]];
    for (const part of value) {
      const options = expandScheduleEntry(part);
      combos = combos.flatMap((c) => options.map((o) => [...c, o]));
    }
    return combos;
  }
  if (key === 'milestones') return isListOfLists(value) ? value : [value];
  return Array.isArray(value) ? value : [value];
}
