// The docs site: `pnpm run docs build | dev | test` (plain `pnpm docs` is a pnpm builtin).
//   build  packages' dist (via turbo, if missing) → TypeDoc API reference into docs/api → VitePress build
//   dev    the same API reference, then the VitePress dev server
//   bench-snapshot  copy bench-results/*.json (from `pnpm bench`) into docs/bench/, the numbers the site shows
//   test   build if any source is newer than the built site (or with --build), then serve the site on
//          127.0.0.1 and run the browser test (docs/test/browser.mjs)
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const root = path.resolve(import.meta.dirname, "..");
const docs = path.join(root, "docs");
const bin = (name) => path.join(docs, "node_modules/.bin", name);
const PACKAGES = ["core", "temperature-softmax", "routing-attention", "hybrid-attention", "landmark", "moe-routing", "models", "datasets"];
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: "1" };

function run(cmd, args, cwd = root) {
  const r = spawnSync(cmd, args, { cwd, stdio: "inherit", env });
  if (r.status !== 0) {
    console.error(`docs: \`${cmd} ${args.join(" ")}\` failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

function timed(label, fn) {
  const t0 = Date.now();
  const result = fn();
  const done = () => console.log(`docs: ${label} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return result instanceof Promise ? result.then((v) => (done(), v)) : (done(), result);
}

function ensurePackagesBuilt() {
  const missing = PACKAGES.filter((p) => !existsSync(path.join(root, "packages", p, "dist/index.js")));
  if (missing.length === 0) return;
  console.log(`docs: building the packages (no dist for ${missing.join(", ")})`);
  run("pnpm", ["turbo", "run", "build", "--filter=@attnkit/docs^..."]);
}

/** TypeDoc: one entry file per package re-exporting its src/index.ts, so each module is named after its package. */
function apiReference() {
  const entries = path.join(docs, ".api-entries");
  rmSync(entries, { recursive: true, force: true });
  mkdirSync(entries);
  for (const p of PACKAGES) {
    writeFileSync(path.join(entries, `${p}.ts`), `/**\n * @packageDocumentation\n * \`@attnkit/${p}\`: see the [guide](/guide/${p}).\n */\nexport * from "../../packages/${p}/src/index";\n`);
  }
  writeFileSync(
    path.join(entries, "tsconfig.json"),
    JSON.stringify({ extends: "@attnkit/tsconfig/base.json", compilerOptions: { noEmit: true, types: ["node"] }, include: ["*.ts"] }, null, 2),
  );
  rmSync(path.join(docs, "api"), { recursive: true, force: true });
  run(bin("typedoc"), [], docs);
}

/** Every runtime export of every package has a page in the API reference. */
async function checkApiCoverage() {
  const missing = [];
  let count = 0;
  for (const p of PACKAGES) {
    const mod = await import(pathToFileURL(path.join(root, "packages", p, "dist/index.js")).href);
    for (const [name, value] of Object.entries(mod)) {
      count++;
      const kinds = typeof value === "function" ? ["functions", "classes"] : ["variables"];
      if (!kinds.some((k) => existsSync(path.join(docs, "api", p, k, `${name}.md`)))) missing.push(`@attnkit/${p}: ${name}`);
    }
  }
  if (missing.length) {
    console.error(`docs: ${missing.length} exports have no API page:\n  ${missing.join("\n  ")}`);
    process.exit(1);
  }
  console.log(`docs: API reference covers all ${count} runtime exports of ${PACKAGES.length} packages`);
}

async function build() {
  timed("packages ready", ensurePackagesBuilt);
  timed("API reference (TypeDoc)", apiReference);
  await timed("API coverage check", checkApiCoverage);
  timed("site (VitePress)", () => run(bin("vitepress"), ["build", "."], docs));
}

/** Newest modification time of the files under `dir`, skipping build outputs (directory times change with every build and test run). */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  const skip = new Set(["node_modules", "dist", "cache", "api", ".api-entries", "test-artifacts", "test"]);
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && skip.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}

function siteIsStale() {
  const built = path.join(docs, ".vitepress/dist/index.html");
  if (!existsSync(built)) return true;
  const sources = [docs, ...PACKAGES.flatMap((p) => [path.join(root, "packages", p, "examples"), path.join(root, "packages", p, "src")])];
  return Math.max(...sources.map(newest)) > statSync(built).mtimeMs;
}

const [command, ...flags] = process.argv.slice(2);
if (command === "build") {
  await timed("build", build);
} else if (command === "dev") {
  ensurePackagesBuilt();
  if (!existsSync(path.join(docs, "api"))) apiReference();
  run(bin("vitepress"), ["dev", "."], docs);
} else if (command === "test") {
  if (flags.includes("--build") || siteIsStale()) await timed("build", build);
  else console.log("docs: the built site is up to date (pass --build to rebuild)");
  timed("browser test", () => run(process.execPath, [path.join(docs, "test/browser.mjs")]));
} else if (command === "bench-snapshot") {
  // The site shows committed numbers (docs/bench/), not whatever bench-results/ a checkout happens to hold.
  const from = path.join(root, "bench-results");
  const to = path.join(docs, "bench");
  const files = existsSync(from) ? readdirSync(from).filter((f) => f.endsWith(".json")) : [];
  if (files.length === 0) {
    console.error("docs: no bench-results/*.json; run `pnpm bench` first");
    process.exit(2);
  }
  mkdirSync(to, { recursive: true });
  for (const f of files) copyFileSync(path.join(from, f), path.join(to, f));
  console.log(`docs: copied ${files.length} benchmark files into docs/bench/: ${files.join(", ")}`);
} else {
  console.error("usage: pnpm run docs build | dev | test [--build] | bench-snapshot");
  process.exit(2);
}
