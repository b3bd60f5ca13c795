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
