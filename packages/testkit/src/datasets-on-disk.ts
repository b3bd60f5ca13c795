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
        for (let p = 0; p < 1024; p++)
          for (let c = 0; c < 3; c++)
            r[1 + c * 1024 + p] = (label * 25 + c * 40 + (p % 32) * 2 + ((i * 7 + p) % 13) + shift) % 256;
        return r;
      }),
    );
  writeFileSync(join(dir, 'data_batch_1.bin'), batch(n, 0));
  writeFileSync(join(dir, 'test_batch.bin'), batch(testN, 3));
  return dir;
}

/** An .npy file as numpy writes it (format 1.0: magic, header dict padded to 64 bytes, little-endian data). */
export function npyBytes(
  descr: string,
  shape: number[],
  values: ArrayLike<number>,
  opts: { fortran?: boolean } = {},
): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + dict.length + 1) % 64);
  const header = `${dict}${' '.repeat(pad % 64)}\n`;
  const head = new Uint8Array(10 + header.length);
  head.set([0x93, ...Buffer.from('NUMPY'), 1, 0]);
  new DataView(head.buffer).setUint16(8, header.length, true);
  head.set(Buffer.from(header, 'latin1'), 10);
  const code = descr.slice(1);
  const big = descr.startsWith('>');
  const size = Number(code.slice(1));
  const body = new DataView(new ArrayBuffer(values.length * size));
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (code === 'f4') body.setFloat32(i * 4, v, !big);
    else if (code === 'f8') body.setFloat64(i * 8, v, !big);
    else if (code === 'i8') body.setBigInt64(i * 8, BigInt(v), !big);
    else if (code === 'i4') body.setInt32(i * 4, v, !big);
    else if (code === 'u1') body.setUint8(i, v);
  }
  return Buffer.concat([head, new Uint8Array(body.buffer)]);
}
