// One home for the trial life cycle (issue #30): only packages/engine may import @lrsweep/db's
// trial-state functions (the ones packages/engine/src/transitions.ts lists). Apps, other packages,
// scripts and tests go through @lrsweep/engine, so a transition has one caller to change.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const skipDirs = new Set(['node_modules', '.git', 'dist', 'generated', '.turbo', 'output', '.demo', '.venv-torch']);
const owners = ['packages/db/', 'packages/engine/'];

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.venv') || skipDirs.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (/\.(ts|tsx|mts|mjs|js)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** The names a file imports or re-exports from `@lrsweep/db` (static and dynamic forms). */
export function namesFromDb(text: string): string[] {
  const names: string[] = [];
  const stmt = /(?:import|export)\s+(?:type\s+)?\{([^}]*)\}\s*from\s*['"]@lrsweep\/db['"]/g;
  for (const m of text.matchAll(stmt)) {
    for (const part of m[1]!.replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g, '').split(',')) {
      const name = part
        .replace(/^\s*type\s+/, '')
        .split(/\s+as\s+/)[0]!
        .trim();
      if (name) names.push(name);
    }
  }
  // `import * as db from '@lrsweep/db'` or `await import('@lrsweep/db')` would reach everything.
  if (/import\s+\*\s+as\s+\w+\s+from\s*['"]@lrsweep\/db['"]|import\(\s*['"]@lrsweep\/db['"]\s*\)/.test(text))
    names.push('*');
  return names;
}

/** The trial-state functions: what packages/engine/src/transitions.ts re-exports from @lrsweep/db. */
function transitions(): Set<string> {
  const text = readFileSync(join(root, 'packages/engine/src/transitions.ts'), 'utf8');
  // Each is the store's function over the engine's counted client: `export const x = viaEngine(store.x)`.
  const wrapped = [...text.matchAll(/export const (\w+) = viaEngine\(store\.\1\)/g)].map((m) => m[1]!);
  return new Set([...wrapped, '*']);
}

describe('the engine import boundary', () => {
  it('reads imports the way TypeScript writes them', () => {
    expect(
      namesFromDb(
        `import { type Db, finishTrial as finish } from '@lrsweep/db';\nexport { claimTrial } from "@lrsweep/db";`,
      ),
    ).toEqual(['Db', 'finishTrial', 'claimTrial']);
    expect(namesFromDb(`import * as db from '@lrsweep/db';`)).toEqual(['*']);
    expect(namesFromDb(`import { finishTrial } from '@lrsweep/engine';`)).toEqual([]);
  });

  it('lists the life cycle’s transitions', () => {
    const t = transitions();
    for (const name of ['claimTrial', 'finishTrial', 'failAttempt', 'releaseTrial', 'renewLease', 'admitHeldTrials'])
      expect(t.has(name), name).toBe(true);
    for (const name of ['decideRungs', 'releaseOrphanForks', 'handOffFork', 'newDelivery', 'claimTrialForAgent'])
      expect(t.has(name), name).toBe(true);
  });

  it('no app, package, script or test outside packages/engine imports them from @lrsweep/db', () => {
    const banned = transitions();
    const offenders = sources(root)
      .map((f) => relative(root, f))
      // This file's own examples above are not imports.
      .filter((f) => !owners.some((o) => f.startsWith(o)) && f !== 'test/engine-boundary.test.ts')
      .flatMap((f) =>
        namesFromDb(readFileSync(join(root, f), 'utf8'))
          .filter((n) => banned.has(n))
          .map((n) => `${f}: ${n}`),
      );
    expect(offenders).toEqual([]);
  });
});

/**
 * The places that spell "this attempt still holds the trial" by hand, in SQL or in a Prisma
 * filter, instead of calling `heldBy`/`stillHeld` (packages/db/src/ownership.ts).
 */
export function handSpelledOwnership(text: string): string[] {
  const found: string[] = [];
  // SQL: an attempt compared with a value and the status compared with 'running' in one condition.
  const sql = /\battempt\s*=\s*\$\{[^}]*\}[^`;]{0,80}?status\s*=\s*'running'/g;
  // Prisma: `{ id, attempt, status: 'running' }` in a where.
  const prisma = /\battempt\b[^{};]{0,40}status:\s*'running'/g;
  for (const m of text.matchAll(sql)) found.push(m[0]);
  for (const m of text.matchAll(prisma)) found.push(m[0]);
  return found;
}

describe('ownership is spelled once', () => {
  it('finds ownership spelled by hand', () => {
    expect(handSpelledOwnership("WHERE id = ${id}::uuid AND attempt = ${attempt} AND status = 'running'")).toHaveLength(
      1,
    );
    expect(handSpelledOwnership("where: { id: trialId, attempt, status: 'running' },")).toHaveLength(1);
    expect(handSpelledOwnership('WHERE ${heldBy(trialId, attempt)}')).toEqual([]);
    expect(handSpelledOwnership("SET status = 'running', attempt = t.attempt + 1")).toEqual([]);
  });

  it('every write guarded by an attempt goes through heldBy', () => {
    const offenders = sources(root)
      .map((f) => relative(root, f))
      .filter((f) => !f.endsWith('.test.ts') && !f.startsWith('test/') && f !== 'packages/db/src/ownership.ts')
      .flatMap((f) => handSpelledOwnership(readFileSync(join(root, f), 'utf8')).map((m) => `${f}: ${m}`));
    expect(offenders).toEqual([]);
    // And the stores do use it (the guard did not just vanish).
    const users = sources(join(root, 'packages/db/src')).filter((f) =>
      /\b(heldBy|stillHeld)\(/.test(readFileSync(f, 'utf8')),
    );
    expect(users.length).toBeGreaterThanOrEqual(6);
  });
});
