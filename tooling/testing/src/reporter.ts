// Prints one closing line CI reads: `vitest: N passed, N failed, N skipped`. A test file that failed to
// load counts as a failure, and so does every unhandled error.
import type { Reporter, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      let tests = 0;
      for (const test of mod.children.allTests()) {
        tests++;
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
      if (tests === 0 && mod.state() === "failed") failed++;
    }
    failed += unhandledErrors.length;
    console.log(`vitest: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  }
}
