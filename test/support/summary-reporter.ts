import type { Reporter, TestModule } from 'vitest/node';

/** Ends the run with the plain `tests: N passed, N failed, N skipped` line CI tools read. */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: readonly TestModule[]) {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const m of modules) {
      // In a file that failed outside its tests (it would not load, or a beforeAll threw), the
      // tests that did not run failed with it; a file that has no test at all counts once.
      const tests = [...m.children.allTests()];
      const fileFailed = m.state() === 'failed' && !tests.some((t) => t.result().state === 'failed');
      for (const t of tests) {
        const state = t.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed' || fileFailed) counts.failed++;
        else counts.skipped++;
      }
      if (fileFailed && tests.length === 0) counts.failed++;
    }
    process.stdout.write(`\ntests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}
