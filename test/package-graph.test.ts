// The workspace's package graph (issue "One contract"): no package depends on an app, the contract
// depends only on schema packages, nothing is cyclic (pnpm warns of cycles on install), and the
// dashboard reaches no Prisma.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '..');
interface Pkg {
  dir: string;
  name: string;
  deps: string[];
  external: string[];
  /** What it needs at run time (`dependencies`). */
  runtime: string[];
}

function workspace(): Map<string, Pkg> {
  const globs = (parse(readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8')) as { packages: string[] }).packages;
  const dirs = globs.flatMap((g) =>
    g.endsWith('/*')
      ? readdirSync(join(root, g.slice(0, -2)), { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => join(g.slice(0, -2), d.name))
      : [g],
  );
  const pkgs = new Map<string, Pkg>();
  for (const dir of dirs) {
    const file = join(root, dir, 'package.json');
    if (!existsSync(file)) continue;
    const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string> | string>;
    const all = {
      ...(j.dependencies as object),
      ...(j.devDependencies as object),
      ...(j.optionalDependencies as object),
      ...(j.peerDependencies as object),
    } as Record<string, string>;
    pkgs.set(j.name as string, {
      dir,
      name: j.name as string,
      deps: Object.entries(all)
        .filter(([, v]) => v.startsWith('workspace:'))
        .map(([k]) => k),
      external: Object.entries(all)
        .filter(([, v]) => !v.startsWith('workspace:'))
        .map(([k]) => k),
      runtime: Object.keys((j.dependencies as object) ?? {}),
    });
  }
  return pkgs;
}

const reach = (pkgs: Map<string, Pkg>, from: string, seen = new Set<string>()): Set<string> => {
  for (const d of pkgs.get(from)?.deps ?? []) if (!seen.has(d)) reach(pkgs, d, seen.add(d));
  return seen;
};

describe('the workspace package graph', () => {
  const pkgs = workspace();

  it('finds the workspace', () => {
    expect([...pkgs.keys()]).toEqual(
      expect.arrayContaining([
        '@lrsweep/contract',
        '@lrsweep/api',
        '@lrsweep/worker',
        '@lrsweep/client',
        '@lrsweep/testkit',
      ]),
    );
  });

  it('has no package that depends on an app', () => {
    const apps = new Set([...pkgs.values()].filter((p) => p.dir.startsWith('apps/')).map((p) => p.name));
    const offenders = [...pkgs.values()]
      .filter((p) => p.dir.startsWith('packages/'))
      .flatMap((p) => p.deps.filter((d) => apps.has(d)).map((d) => `${p.name} → ${d}`));
    expect(offenders).toEqual([]);
  });

  it('keeps the contract on schema packages only', () => {
    const c = pkgs.get('@lrsweep/contract')!;
    expect(c.deps).toEqual(['@lrsweep/schedules']);
    expect(c.external).toEqual(['zod']);
    expect(pkgs.get('@lrsweep/schedules')!.runtime).toEqual(['zod']);
  });

  it('has no cycle', () => {
    const cycles: string[] = [];
    for (const name of pkgs.keys()) if (reach(pkgs, name).has(name)) cycles.push(name);
    expect(cycles).toEqual([]);
  });

  it('lets the dashboard and the client reach no Prisma and no app', () => {
    for (const name of ['@lrsweep/dashboard', '@lrsweep/client']) {
      const reached = reach(pkgs, name);
      expect(
        [...reached].filter((d) => d === '@lrsweep/db' || pkgs.get(d)?.dir.startsWith('apps/')),
        name,
      ).toEqual([]);
      for (const d of [name, ...reached])
        expect(
          pkgs.get(d)!.external.filter((e) => e.includes('prisma')),
          d,
        ).toEqual([]);
    }
  });
});
