import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * What a test needs from outside the repository (a browser, a dataset package, an interpreter).
 * Where it is present the test runs. Where it is not the test fails and says how to get it,
 * unless LRSWEEP_SKIP names it (comma-separated): an explicit skip, and it is printed. Never a
 * silent skip.
 */
export function requirement(name: string, present: boolean, how: string) {
  const skip =
    !present &&
    (process.env.LRSWEEP_SKIP ?? '')
      .split(',')
      .map((s) => s.trim())
      .includes(name);
  if (skip) console.warn(`[lrsweep] skipping the tests that need ${name} (LRSWEEP_SKIP=${name}): ${how}`);
  return {
    skip,
    /** Throws (failing the test) when the requirement is missing. */
    assert() {
      if (!present) throw new Error(`this test needs ${name}: ${how}. Set LRSWEEP_SKIP=${name} to skip it explicitly.`);
    },
  };
}

/**
 * Why the native backend (`@tensorflow/tfjs-node`, built by `pnpm setup:tensorflow`) does not load
 * here, or null when it does: tried in a child process, as a worker would load it.
 */
export function nativeBackendMissing(): string | null {
  const trainer = fileURLToPath(new URL('../../trainer', import.meta.url));
  const probe = spawnSync(process.execPath, ['-e', "require('@tensorflow/tfjs-node')"], {
    cwd: trainer,
    encoding: 'utf8',
  });
  if (probe.status === 0) return null;
  const why =
    probe.stderr
      .trim()
      .split('\n')
      .find((l) => /Error|Cannot/.test(l)) ?? 'it does not load';
  console.warn(
    `[lrsweep] the native-backend tests need @tensorflow/tfjs-node, which does not load here (${why}). Run \`pnpm setup:tensorflow\`.`,
  );
  return why;
}

/**
 * The native-backend tests: where the native backend does not load (`why`) they do not run, and
 * say why — except in CI (CI=true), where `.ci/run` builds the backend, so its absence fails them.
 */
export function nativeBackendTests(why: string | null) {
  const ci = process.env.CI === 'true';
  return {
    skip: why !== null && !ci,
    /** Throws (failing the test) in CI when the native backend does not load. */
    assert() {
      if (why !== null) throw new Error(`CI needs the native backend (pnpm setup:tensorflow builds it): ${why}`);
    },
  };
}
