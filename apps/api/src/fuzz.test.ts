// 1 000 hostile specs, each a mutation of a valid one: every one answers 400, and no sweep, trial
// or job is created. Deterministic: a seeded generator picks the mutations.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, createApiHarness } from './test-harness';

const valid = {
  name: 'fuzz',
  dataset: { name: 'mnist', trainSize: 800, testSize: 200 },
  model: { kind: 'mlp', hidden: [16, 8], activation: 'relu' },
  optimizer: { kind: 'adam', beta1: 0.9 },
  training: { epochs: 1, batchSize: 100, evalEvery: 4 },
  grid: {
    baseLr: [0.001, 0.01],
    schedule: [
      { kind: 'constant' },
      { kind: 'cosine', minFactor: 0.1, warmup: { steps: [0, 2] } },
      { kind: 'step', stepSize: 3, gamma: 0.5 },
    ],
    seeds: [0, 1],
  },
  objective: { metric: 'val_loss', mode: 'min', aggregate: 'final' },
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

/** Every path to a value in the document (the root excluded). */
function paths(v: Json, at: Path = []): Path[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => [[...at, i], ...paths(x, [...at, i])]);
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [[...at, k], ...paths(x, [...at, k])]);
  return [];
}
const getAt = (v: Json, p: Path): Json => p.reduce<Json>((x, k) => (x as Record<string | number, Json>)[k]!, v);
function setAt(v: Json, p: Path, value: Json): Json {
  const copy = structuredClone(v);
  const parent = getAt(copy, p.slice(0, -1)) as Record<string | number, Json>;
  parent[p.at(-1)!] = value;
  return copy;
}
const typeOf = (v: Json) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const objectPaths = (v: Json) => [[], ...paths(v)].filter((p) => typeOf(getAt(v, p)) === 'object');

/** A value of a different JSON type than `v`. */
const otherType = (v: Json, pick: number): Json => {
  const all: Json[] = [null, true, 0, -7.5, 'text', [], {}, [1, 'x'], { x: 1 }];
  const options = all.filter((o) => typeOf(o) !== typeOf(v));
  return options[pick % options.length]!;
};
const nested = (depth: number): Json => (depth === 0 ? 1 : depth % 2 ? [nested(depth - 1)] : { a: nested(depth - 1) });

/** Mutation kinds; each returns a raw JSON text. */
const mutations: ((v: Json, r: number[]) => string)[] = [
  // wrong type at any value
  (v, r) => {
    const ps = paths(v);
    const p = ps[r[0]! % ps.length]!;
    return JSON.stringify(setAt(v, p, otherType(getAt(v, p), r[1]!)));
  },
  // huge numbers at a numeric value (1e400 is Infinity once parsed)
  (v, r) => {
    const ps = paths(v).filter((p) => typeof getAt(v, p) === 'number');
    const p = ps[r[0]! % ps.length]!;
    const huge = ['1e400', '-1e400', '1e308', '-1e308', '9007199254740993000', '1e-400'][r[1]! % 6]!;
    const marker = '"__HUGE__"';
    const text = JSON.stringify(setAt(v, p, '__HUGE__'));
    // 1e-400 parses to 0: only hostile where 0 is invalid, so fall back to 1e400 elsewhere.
    return text.replace(
      marker,
      huge === '1e-400' && !/baseLr|stepSize|batchSize|epochs|evalEvery|trainSize|testSize/.test(p.join('.'))
        ? '1e400'
        : huge,
    );
  },
  // NaN / Infinity as strings where numbers go
  (v, r) => {
    const ps = paths(v).filter((p) => typeof getAt(v, p) === 'number');
    return JSON.stringify(setAt(v, ps[r[0]! % ps.length]!, ['NaN', 'Infinity', '-Infinity', '1e400'][r[1]! % 4]!));
  },
  // deep nesting, as a value somewhere or wrapping a value
  (v, r) => {
    const ps = paths(v);
    const p = ps[r[0]! % ps.length]!;
    return JSON.stringify(setAt(v, p, nested(20 + (r[1]! % 200))));
  },
  // prototype-pollution keys in any object
  (v, r) => {
    const ps = objectPaths(v);
    const p = ps[r[0]! % ps.length]!;
    const key = ['__proto__', 'constructor', 'prototype'][r[1]! % 3]!;
    const marker = '"__POLLUTE__":1';
    const o = { ...(getAt(v, p) as Record<string, Json>), __POLLUTE__: 1 };
    const text = JSON.stringify(p.length ? setAt(v, p, o) : o);
    return text.replace(marker, `"${key}":{"polluted":true,"prototype":{"polluted":true}}`);
  },
  // very long strings at a string value, or as a key
  (v, r) => {
    const long = 'x'.repeat(10_000 + (r[1]! % 100_000));
    if (r[2]! % 2) {
      const ps = paths(v).filter((p) => typeof getAt(v, p) === 'string');
      return JSON.stringify(setAt(v, ps[r[0]! % ps.length]!, long));
    }
    const ps = objectPaths(v);
    const p = ps[r[0]! % ps.length]!;
    const o = { ...(getAt(v, p) as Record<string, Json>), [long]: 1 };
    return JSON.stringify(p.length ? setAt(v, p, o) : o);
  },
  // a duplicated key whose second value is valid: JSON.parse alone would accept it
  (v, r) => {
    const ps = paths(v).filter((p) => typeof p.at(-1) === 'string');
    const p = ps[r[0]! % ps.length]!;
    const key = p.at(-1) as string;
    const parent = getAt(v, p.slice(0, -1)) as Record<string, Json>;
    const inner = JSON.stringify(parent).slice(1, -1);
    const dup = `{${JSON.stringify(key)}:${JSON.stringify(otherType(parent[key]!, r[1]!))},${inner}}`;
    const marker = '"__DUP__"';
    const text = JSON.stringify(p.length > 1 ? setAt(v, p.slice(0, -1), '__DUP__') : '__DUP__');
    return p.length > 1 ? text.replace(marker, dup) : dup;
  },
];

describe('fuzzing POST /v1/sweeps', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await createApiHarness('fuzz', { rateLimitPerMinute: 1_000_000, bodyLimit: 4_000_000 });
  });
  afterAll(async () => h?.close());

  it('the unmutated spec is accepted (so every 400 below is the mutation)', async () => {
    const r = await h.inject({ method: 'POST', url: '/v1/sweeps', payload: valid });
    expect(r.statusCode, r.body).toBe(201);
    await h.handle.prisma.sweep.deleteMany();
    await h.jobs.obliterate({ force: true });
  });

  it('answers 400 to 1 000 hostile mutations and creates nothing', async () => {
    const draws = fc.sample(fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat()), { numRuns: 1000, seed: 20261128 });
    const counts = new Array(mutations.length).fill(0);
    const failures: string[] = [];
    for (const [m, a, b, c] of draws) {
      const kind = m % mutations.length;
      counts[kind]++;
      const body = mutations[kind]!(valid as unknown as Json, [a, b, c]);
      const r = await h.inject({
        method: 'POST',
        url: '/v1/sweeps',
        headers: { 'content-type': 'application/json' },
        payload: body,
      });
      if (r.statusCode !== 400 || !r.json().code) failures.push(`${r.statusCode} for ${body.slice(0, 300)}`);
    }
    expect(failures).toEqual([]);
    expect(counts.every((n) => n > 100)).toBe(true);
    expect(await h.handle.prisma.sweep.count()).toBe(0);
    expect(await h.handle.prisma.trial.count()).toBe(0);
    expect(await h.jobs.count()).toBe(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
