import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { TrainerState } from '@lrsweep/trainer';

/**
 * Checkpoint files: a JSON header (everything but the arrays, and the arrays' lengths), then the
 * arrays as raw little-endian bytes. Written to a temporary name and renamed, so a reader never
 * sees half a file. One directory per trial under the deployment's namespace of a directory the
 * fleet shares.
 */
const MAGIC = 'LRSWEEP-CKPT-1';

function encodeCheckpoint(s: TrainerState): Buffer {
  const arrays = [s.perm, ...s.weights, ...s.optimizer.slots];
  const header = {
    magic: MAGIC,
    step: s.step,
    epoch: s.epoch,
    batchStart: s.batchStart,
    rngState: s.rngState,
    optimizerT: s.optimizer.t,
    observed: s.observed,
    summary: s.summary,
    weights: s.weights.map((w) => w.length),
    slots: s.optimizer.slots.map((w) => w.length),
    perm: s.perm.length,
  };
  const head = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.length);
  return Buffer.concat([len, head, ...arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))]);
}

function decodeCheckpoint(buf: Buffer): TrainerState {
  const headLen = buf.readUInt32LE(0);
  const h = JSON.parse(buf.subarray(4, 4 + headLen).toString());
  if (h.magic !== MAGIC) throw new Error('not an lrsweep checkpoint');
  let off = 4 + headLen;
  const take = <T extends Int32Array | Float32Array>(n: number, make: (b: ArrayBuffer) => T): T => {
    const bytes = buf.subarray(off, off + n * 4);
    if (bytes.length !== n * 4) throw new Error('checkpoint is truncated');
    off += n * 4;
    return make(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  };
  const perm = take(h.perm, (b) => new Int32Array(b));
  const weights = (h.weights as number[]).map((n) => take(n, (b) => new Float32Array(b)));
  const slots = (h.slots as number[]).map((n) => take(n, (b) => new Float32Array(b)));
  return {
    step: h.step,
    epoch: h.epoch,
    batchStart: h.batchStart,
    perm,
    rngState: h.rngState,
    weights,
    optimizer: { t: h.optimizerT, slots },
    observed: h.observed,
    summary: h.summary,
  };
}

/**
 * The checkpoint files of one deployment: `dir` is its namespace, CHECKPOINT_DIR/<deployment id>.
 * Paths handed out and stored are relative to it (`<trial id>/a<attempt>-s<step>.ckpt`), so the
 * directory can move; an absolute path (recorded before namespaces) is still read where it is.
 */
export function createCheckpointFiles(dir: string) {
  const at = (path: string) => resolve(dir, path);
  return {
    dir,
    async write(trialId: string, attempt: number, state: TrainerState): Promise<string> {
      await mkdir(join(dir, trialId), { recursive: true });
      const path = `${trialId}/a${attempt}-s${state.step}.ckpt`;
      const tmp = `${at(path)}.${process.pid}.tmp`;
      try {
        await writeFile(tmp, encodeCheckpoint(state));
        await rename(tmp, at(path));
      } catch (err) {
        // A full disk (ENOSPC) or any other failure leaves no partial file behind.
        await rm(tmp, { force: true }).catch(() => {});
        throw err;
      }
      return path;
    },
    async read(path: string): Promise<TrainerState> {
      return decodeCheckpoint(await readFile(at(path)));
    },
    async remove(path: string): Promise<void> {
      await rm(at(path), { force: true });
    },
    async removeTrial(trialId: string): Promise<void> {
      await rm(join(dir, trialId), { recursive: true, force: true });
    },
    /** True when `path` (as recorded) names this file of the namespace, relative or absolute. */
    same(recorded: string | null, path: string): boolean {
      return recorded !== null && at(recorded) === at(path);
    },
    /**
     * The folders of this namespace, each with its files (paths relative to the namespace, age in
     * ms) and its own age: that of its youngest file, or of the folder itself when it is empty.
     */
    async list(): Promise<{ trialId: string; ageMs: number; files: { path: string; ageMs: number }[] }[]> {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      const now = Date.now();
      const age = async (p: string) => now - (await stat(p).catch(() => ({ mtimeMs: now }))).mtimeMs;
      return Promise.all(
        entries
          .filter((e) => e.isDirectory())
          .map(async (e) => {
            const names = await readdir(join(dir, e.name)).catch(() => [] as string[]);
            const files = await Promise.all(
              names.map(async (n) => ({ path: `${e.name}/${n}`, ageMs: await age(join(dir, e.name, n)) })),
            );
            const ageMs = files.length ? Math.min(...files.map((f) => f.ageMs)) : await age(join(dir, e.name));
            return { trialId: e.name, ageMs, files };
          }),
      );
    },
  };
}
export type CheckpointFiles = ReturnType<typeof createCheckpointFiles>;
