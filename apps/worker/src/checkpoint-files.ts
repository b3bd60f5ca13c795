import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrainerState } from '@lrsweep/trainer';

/**
 * Checkpoint files: a JSON header (everything but the arrays, and the arrays' lengths), then the
 * arrays as raw little-endian bytes. Written to a temporary name and renamed, so a reader never
 * sees half a file. One directory per trial under a directory the fleet shares.
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

export function createCheckpointFiles(dir: string) {
  return {
    async write(trialId: string, attempt: number, state: TrainerState): Promise<string> {
      const folder = join(dir, trialId);
      await mkdir(folder, { recursive: true });
      const path = join(folder, `a${attempt}-s${state.step}.ckpt`);
      const tmp = `${path}.${process.pid}.tmp`;
      try {
        await writeFile(tmp, encodeCheckpoint(state));
        await rename(tmp, path);
      } catch (err) {
        // A full disk (ENOSPC) or any other failure leaves no partial file behind.
        await rm(tmp, { force: true }).catch(() => {});
        throw err;
      }
      return path;
    },
    async read(path: string): Promise<TrainerState> {
      return decodeCheckpoint(await readFile(path));
    },
    async remove(path: string): Promise<void> {
      await rm(path, { force: true });
    },
    async removeTrial(trialId: string): Promise<void> {
      await rm(join(dir, trialId), { recursive: true, force: true });
    },
    /** The trials that have a checkpoint folder, and each folder's files with their age in ms. */
    async list(): Promise<{ trialId: string; files: { path: string; ageMs: number }[] }[]> {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      const now = Date.now();
      return Promise.all(
        entries
          .filter((e) => e.isDirectory())
          .map(async (e) => {
            const folder = join(dir, e.name);
            const names = await readdir(folder).catch(() => [] as string[]);
            const files = await Promise.all(
              names.map(async (n) => ({
                path: join(folder, n),
                ageMs: now - (await stat(join(folder, n)).catch(() => ({ mtimeMs: now }))).mtimeMs,
              })),
            );
            return { trialId: e.name, files };
          }),
      );
    },
  };
}
export type CheckpointFiles = ReturnType<typeof createCheckpointFiles>;
