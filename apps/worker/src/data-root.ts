import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { type TrialErrorCode, TrialError } from '@lrsweep/contract';
import { type DatasetRequest, missingDataset } from '@lrsweep/trainer';

/** A root the worker is configured with: its name (for messages) and the error a bad path is. */
export interface Root {
  dir: string;
  name: 'DATA_ROOT' | 'MODEL_ROOT';
  code: TrialErrorCode;
}
export const dataRootOf = (dir: string): Root => ({ dir, name: 'DATA_ROOT', code: 'DATASET_INVALID' });
export const modelRootOf = (dir: string): Root => ({ dir, name: 'MODEL_ROOT', code: 'MODEL_INVALID' });

/**
 * Spec paths are relative to a root the worker is configured with (DATA_ROOT, MODEL_ROOT): the
 * real path (symlinks resolved) must stay inside the root's real path, and it must exist. A path
 * a v1 spec gave absolutely is accepted only when it lies inside the root.
 */
export function resolveUnderRoot(root: string | Root, path: string, what: string): string {
  const r = typeof root === 'string' ? dataRootOf(root) : root;
  // A worker without its root is misconfigured, not the trial: another worker may have it.
  if (!existsSync(r.dir))
    throw new TrialError('INFRASTRUCTURE', `this worker's ${r.name} does not exist (it was to hold ${what} '${path}')`);
  const realRoot = realpathSync(r.dir);
  const candidate = isAbsolute(path) ? path : join(realRoot, path);
  if (!existsSync(candidate)) throw new TrialError(r.code, `${what} '${path}' does not exist under ${r.name}`);
  const real = realpathSync(candidate);
  const rel = relative(realRoot, real);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
    throw new TrialError(r.code, `${what} '${path}' leaves ${r.name}`);
  return real;
}

/** A resolved path as users see it: relative to its root (what provenance records). */
export const relativeToRoot = (root: string, real: string) => relative(realpathSync(root), real);

/**
 * A Layers model's files: model.json under MODEL_ROOT, and each weight shard its manifest names
 * (relative to model.json) under it too.
 */
export function resolveModelFiles(modelRoot: string, path: string) {
  const root = modelRootOf(modelRoot);
  const file = resolveUnderRoot(root, path, 'model path');
  return {
    file,
    shard: (p: string) => resolveUnderRoot(root, isAbsolute(p) ? p : join(dirname(file), p), 'weight shard'),
  };
}

/**
 * A trial's dataset request with its path resolved under the root: the real path is what the
 * dataset cache keys on, so another directory (or a missing one) is never served earlier data.
 * fashion-mnist without a path keeps Debian's directory.
 */
export function resolveDataset(req: DatasetRequest, dataRoot: string): DatasetRequest {
  if (req.path === undefined) return req;
  try {
    return { ...req, path: resolveUnderRoot(dataRoot, req.path, 'dataset path') };
  } catch (err) {
    // Not there: say how to get it (Debian's package, or files of your own under DATA_ROOT).
    if (err instanceof TrialError && err.code === 'DATASET_INVALID' && / does not exist under /.test(err.message))
      throw missingDataset(req.name, err.message);
    throw err;
  }
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
