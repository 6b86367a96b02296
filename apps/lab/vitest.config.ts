import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "lab", include: ["test/**/*.test.ts"], environment: "node", testTimeout: 300_000, hookTimeout: 300_000 },
});
