import type { Db } from '@lrsweep/db';

/**
 * The engine's own count of the Postgres transactions it runs (issue #30: two a trial on the happy
 * path), per process: every statement the engine sends outside a transaction is one (Postgres
 * commits it alone), and every `$transaction` is one, however many statements it holds. Read it
 * with `engineTransactions()`; the worker exports it to Prometheus
 * (`lrsweep_engine_transactions_total`) and `pnpm bench:orchestration` divides it by trials.
 */
let transactions = 0;
export const engineTransactions = () => transactions;

const counted = new WeakMap<object, object>();
const raw = new Set(['$queryRaw', '$executeRaw', '$queryRawUnsafe', '$executeRawUnsafe']);

/**
 * A Prisma promise counted when it runs (awaited), not when it is built: the statements a batch
 * `$transaction([...])` holds are built through the client too, but run inside its one transaction.
 */
function countWhenRun<P>(p: P): P {
  if (!p || typeof p !== 'object' || typeof (p as { then?: unknown }).then !== 'function') return p;
  let done = false;
  return new Proxy(p as object, {
    get(target, key) {
      const v = Reflect.get(target, key, target);
      if (key === 'then')
        return (...a: unknown[]) => {
          if (!done) (done = true), (transactions += 1);
          return (v as (...x: unknown[]) => unknown).apply(target, a);
        };
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as P;
}

const bindAll = (target: object, wrapResult: (r: unknown) => unknown) =>
  new Proxy(target, {
    get(t, key) {
      const v = Reflect.get(t, key, t);
      return typeof v === 'function'
        ? (...a: unknown[]) => wrapResult((v as (...x: unknown[]) => unknown).apply(t, a))
        : v;
    },
  });

/** `db` as the engine uses it: every transaction it runs through it is counted (one proxy per client). */
export function counting(db: Db): Db {
  const known = counted.get(db);
  if (known) return known as Db;
  const proxy = new Proxy(db, {
    get(target, key) {
      const v = Reflect.get(target, key, target) as unknown;
      if (key === '$transaction')
        return (...a: unknown[]) => {
          transactions += 1;
          return (v as (...x: unknown[]) => unknown).apply(target, a);
        };
      if (typeof key === 'string' && raw.has(key))
        return (...a: unknown[]) => countWhenRun((v as (...x: unknown[]) => unknown).apply(target, a));
      if (typeof v === 'function') return (v as (...x: unknown[]) => unknown).bind(target);
      // A model's delegate (db.trial, db.sweep …): each of its queries is a statement of its own.
      if (typeof key === 'string' && !key.startsWith('$') && !key.startsWith('_') && v && typeof v === 'object')
        return bindAll(v, countWhenRun);
      return v;
    },
  });
  counted.set(db, proxy);
  return proxy;
}
