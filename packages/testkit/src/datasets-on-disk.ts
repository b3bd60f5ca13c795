import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A CIFAR-10 binary directory at `dir`: class k is a colour gradient, so it can be learned;
 * `shift` changes every pixel (two directories, two datasets of the same shape and size).
 */
export function writeCifar(dir: string, n: number, testN: number, shift = 0): string {
  mkdirSync(dir, { recursive: true });
  const batch = (count: number, offset: number) =>
    Buffer.concat(
      Array.from({ length: count }, (_, i) => {
        const label = (i + offset) % 10;
        const r = Buffer.alloc(3073);
        r[0] = label;
        for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) r[1 + c * 1024 + p] = (label * 25 + c * 40 + (p % 32) * 2 + ((i * 7 + p) % 13) + shift) % 256;
        return r;
      }),
    );
  writeFileSync(join(dir, 'data_batch_1.bin'), batch(n, 0));
  writeFileSync(join(dir, 'test_batch.bin'), batch(testN, 3));
  return dir;
}
