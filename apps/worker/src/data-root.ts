import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { TrialError } from '@lrsweep/contract';
import type { DatasetRequest } from '@lrsweep/trainer';

/**
 * Spec paths are relative to a root the worker is configured with (DATA_ROOT): the real path
 * (symlinks resolved) must stay inside the root's real path, and it must exist. A path a v1 spec
 * gave absolutely is accepted only when it lies inside the root.
 */
export function resolveUnderRoot(root: string, path: string, what: string): string {
  // A worker without its root is misconfigured, not the trial: another worker may have it.
  if (!existsSync(root)) throw new TrialError('INFRASTRUCTURE', `this worker's DATA_ROOT does not exist (it was to hold ${what} '${path}')`);
  const realRoot = realpathSync(root);
  const candidate = isAbsolute(path) ? path : join(realRoot, path);
  if (!existsSync(candidate)) throw new TrialError('DATASET_INVALID', `${what} '${path}' does not exist under DATA_ROOT`);
  const real = realpathSync(candidate);
  const rel = relative(realRoot, real);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new TrialError('DATASET_INVALID', `${what} '${path}' leaves DATA_ROOT`);
  return real;
}

/**
 * A trial's dataset request with its path resolved under the root: the real path is what the
 * dataset cache keys on, so another directory (or a missing one) is never served earlier data.
 * fashion-mnist without a path keeps Debian's directory.
 */
export function resolveDataset(req: DatasetRequest, dataRoot: string): DatasetRequest {
  if (req.path === undefined) return req;
  return { ...req, path: resolveUnderRoot(dataRoot, req.path, 'dataset path') };
}

/**
 * A message for users with the worker's paths taken out: paths under a root become relative to
 * it, and any other absolute path is not shown at all.
 */
export function withoutWorkerPaths(message: string, roots: readonly string[]): string {
  let out = message;
  for (const root of roots) {
    for (const r of new Set([root, safeRealpath(root)])) {
      if (r && r !== sep) out = out.split(`${r.replace(/\/+$/, '')}/`).join('');
    }
  }
  return out.replace(/(^|[\s'"(=:])\/[^\s'"),]+/g, '$1<a worker path>');
}

function safeRealpath(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}
