import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "models", include: ["test/**/*.test.ts"], environment: "node", testTimeout: 300_000, hookTimeout: 120_000 },
});
