// The v1.1 split (SWEEP_API.md): validation samples are drawn from the training split, disjoint
// from the ones that train and from the test samples; the same request gives the same samples;
// splitSeed redraws training and validation but never the test split; validationSize 0 is v1.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type Dataset, loadDataset } from './datasets';

const rowsOf = (x: Float32Array | Int32Array, d: number) =>
  Array.from({ length: x.length / d }, (_, i) =>
    createHash('sha1')
      .update(new Uint8Array(x.buffer, x.byteOffset + i * d * 4, d * 4))
      .digest('hex'),
  );
const splits = (ds: Dataset) => ({
  train: rowsOf(ds.trainX, ds.inputDim),
  val: rowsOf(ds.valX, ds.inputDim),
  test: rowsOf(ds.testX, ds.inputDim),
});
const disjoint = (a: string[], b: string[]) => {
  const s = new Set(a);
  return b.every((x) => !s.has(x));
};

describe.each(['mnist', 'synthetic'] as const)('%s splits', (name) => {
  const req = { name, trainSize: 1000, validationSize: 150, testSize: 200 };

  it('holds validationSize of the trainSize samples out: three disjoint splits of the asked sizes', () => {
    const s = splits(loadDataset(req));
    expect([s.train.length, s.val.length, s.test.length]).toEqual([850, 150, 200]);
    expect(disjoint(s.train, s.val)).toBe(true);
    expect(disjoint(s.train, s.test)).toBe(true);
    expect(disjoint(s.val, s.test)).toBe(true);
  });

  it('is reproducible, and splitSeed redraws training and validation but not the test split', () => {
    const a = loadDataset(req);
    expect(loadDataset(req).checksum).toBe(a.checksum);
    const b = loadDataset({ ...req, splitSeed: 7 });
    const [sa, sb] = [splits(a), splits(b)];
    expect(sb.test).toEqual(sa.test);
    expect(sb.val).not.toEqual(sa.val);
    expect(b.checksum).not.toBe(a.checksum);
    expect(disjoint(sb.val, sb.test) && disjoint(sb.train, sb.val)).toBe(true);
  });
});

describe('validationSize 0 (v1, and every sweep stored before v1.1)', () => {
  it('evaluates on the test split and draws exactly the samples v1 drew', () => {
    const m = loadDataset({ name: 'mnist', trainSize: 1000, testSize: 200 });
    expect(m.valX).toBe(m.testX);
    // Checksums the code before v1.1 (commit 4771e4d) gave the same requests.
    expect(m.checksum).toBe('9e7715124eef3ba85ae603f0adf693f59e7dfa2c77a1bebfc1f1a026e1395fc1');
    expect(loadDataset({ name: 'synthetic', trainSize: 500, testSize: 100 }).checksum).toBe(
      'e69bbd563bf80fdac9d7b3028779ad34b38b1771948bb456ff3a7c3eac94d3cb',
    );
  });

  it('with a validation split, the training samples are the v1 ones less those held out', () => {
    const v1 = splits(loadDataset({ name: 'mnist', trainSize: 1000, testSize: 200 }));
    const v11 = splits(loadDataset({ name: 'mnist', trainSize: 1000, validationSize: 100, testSize: 200 }));
    expect([...v11.val, ...v11.train]).toEqual(v1.train);
    expect(v11.test).toEqual(v1.test);
  });
});
