import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/reference.ts"],
  shims: true,
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
  // Optional peers stay external: bundling `webgpu` would break the path to its native dawn.node.
  external: ["webgpu", "@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-backend-webgpu"],
});
