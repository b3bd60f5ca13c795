import type { z } from 'zod';

/** A problem with one field of a spec: `path` is dotted, with `[i]` for list positions. */
export interface SpecIssue {
  path: string;
  message: string;
}

/** `['grid', 'schedule', 2, 'warmup', 'steps']` → `grid.schedule[2].warmup.steps`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Flattens zod issues into `SpecIssue`s; an unknown key gets the key's own path. */
export function toSpecIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): SpecIssue[] {
  const out: SpecIssue[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: formatPath([...path, key]), message: `unknown key '${key}'` });
    } else if (
      issue.code === 'invalid_union' &&
      'discriminator' in issue &&
      issue.discriminator &&
      path.at(-1) !== issue.discriminator
    ) {
      out.push({ path: formatPath([...path, issue.discriminator]), message: issue.message });
    } else {
      out.push({ path: formatPath(path), message: issue.message });
    }
  }
  return out;
}
