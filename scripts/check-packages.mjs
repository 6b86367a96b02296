// Packs every public package, lints the tarballs (publint, arethetypeswrong), installs them into a
// fresh project outside the workspace and imports each from ESM and from CJS.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
const bin = (name) => path.join(root, "node_modules", ".bin", name);

const packages = readdirSync(path.join(root, "packages"))
  .map((dir) => ({ dir: path.join(root, "packages", dir), json: JSON.parse(readFileSync(path.join(root, "packages", dir, "package.json"), "utf8")) }))
  .filter((p) => !p.json.private);
const work = mkdtempSync(path.join(tmpdir(), "attnkit-pack-"));
let failures = 0;
try {
  const tarballs = [];
  for (const { dir, json } of packages) {
    // pnpm pack turns workspace:^ ranges into real versions, as publishing does.
    const out = run("pnpm", ["pack", "--pack-destination", work], dir).trim().split("\n").pop();
    const tarball = path.isAbsolute(out) ? out : path.join(work, path.basename(out));
    tarballs.push(tarball);
    try {
      run(bin("publint"), ["run", dir, "--strict"], root);
      run(bin("attw"), [tarball, "--profile", "node16", "--format", "table-flipped"], root);
      console.log(`ok   ${json.name}: publint and arethetypeswrong`);
    } catch (err) {
      failures++;
      console.log(`FAIL ${json.name}: ${String(err.stdout ?? err.message).trim()}`);
    }
  }
  const app = path.join(work, "app");
  run("mkdir", ["-p", app], work);
  writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "attnkit-pack-check", private: true, version: "0.0.0" }));
  run("npm", ["install", "--no-audit", "--no-fund", "--silent", "@tensorflow/tfjs@4.22.0", "@tensorflow/tfjs-backend-wasm@4.22.0", ...tarballs], app);
  // A user's first run: no `webgpu` package here, so initBackend must fall back to wasm and find its
  // .wasm files inside the installed package, then run attention.
  const smoke = `
    import * as tf from "@tensorflow/tfjs";
    import { initBackend, scaledDotProductAttention } from "@attnkit/core";
    const backend = await initBackend({ quiet: true });
    if (backend !== "wasm") throw new Error("expected wasm, got " + backend);
    const q = tf.ones([1, 2, 8, 4]);
    const out = await scaledDotProductAttention(q, q, q, { causal: true }).data();
    if (out.length !== 64 || out.some((x) => Math.abs(x - 1) > 1e-6)) throw new Error("wrong attention output");`;
  try {
    run("node", ["--input-type=module", "-e", smoke], app);
    console.log("ok   @attnkit/core: initBackend falls back to wasm in a fresh install and runs attention");
  } catch (err) {
    failures++;
    console.log(`FAIL @attnkit/core smoke run: ${String(err.message).split("\n").slice(0, 6).join(" ")}`);
  }
  for (const { json } of packages) {
    const esm = `const m = await import(${JSON.stringify(json.name)}); if (Object.keys(m).length < 2) throw new Error("empty module");`;
    const cjs = `const m = require(${JSON.stringify(json.name)}); if (Object.keys(m).length < 2) throw new Error("empty module");`;
    try {
      run("node", ["--input-type=module", "-e", esm], app);
      run("node", ["-e", cjs], app);
      console.log(`ok   ${json.name}: installs alone and imports from ESM and CJS`);
    } catch (err) {
      failures++;
      console.log(`FAIL ${json.name}: import failed: ${String(err.message).split("\n")[0]}`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failures) {
  console.log(`${failures} package check(s) failed`);
  process.exit(1);
}
