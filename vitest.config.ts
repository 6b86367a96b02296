import { defineConfig } from "vitest/config";
import SummaryReporter from "./tooling/testing/src/reporter";

export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*/vitest.config.ts"],
    reporters: ["default", new SummaryReporter()],
  },
});
