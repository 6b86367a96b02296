import { defineConfig } from "tsup";

// The CLI is an ESM-only Node bundle; every dependency stays external (webgpu's dawn.node must be
// resolved from its own package folder).
export default defineConfig({
  entry: ["src/cli.ts"],
  format: ["esm"],
  platform: "node",
  target: "node20",
  sourcemap: true,
  clean: true,
  banner: { js: "#!/usr/bin/env node" },
});
