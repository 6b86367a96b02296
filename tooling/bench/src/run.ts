// `pnpm bench`: runs every packages/*/bench/*.bench.ts in its own process (fresh backend, fresh memory),
// then prints one summary table from their JSON. Exits non-zero when any target was missed or a
// benchmark crashed. Narrow the run with `pnpm bench <substring>`.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../../..");
const filter = process.argv[2] ?? "";
const outDir = path.join(root, "bench-results");
const files: string[] = [];
for (const pkg of readdirSync(path.join(root, "packages")).sort()) {
  const dir = path.join(root, "packages", pkg, "bench");
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).sort()) if (f.endsWith(".bench.ts") && `${pkg}/${f}`.includes(filter)) files.push(path.join(dir, f));
}
let failed = 0;
for (const file of files) {
  console.log(`\n▶ ${path.relative(root, file)}`);
  const r = spawnSync(process.execPath, ["--import", "tsx", file], { stdio: "inherit", cwd: root, env: { ...process.env, ATTNKIT_BENCH_OUT: outDir } });
  if (r.status !== 0) {
    failed++;
    console.log(`✗ ${path.relative(root, file)} exited with ${r.status ?? r.signal}`);
  }
}
console.log("\nSummary");
for (const f of existsSync(outDir) ? readdirSync(outDir).filter((f) => f.endsWith(".json")).sort() : []) {
  const { id, backend, rows } = JSON.parse(readFileSync(path.join(outDir, f), "utf8")) as { id: string; backend: string; rows: { name: string; value: number; unit: string; passed?: boolean }[] };
  for (const row of rows.filter((r) => r.passed !== undefined)) {
    console.log(`  ${row.passed ? "PASS" : "FAIL"}  ${id} [${backend}]  ${row.name}: ${row.value.toFixed(2)}${row.unit}`);
  }
}
console.log(`\n${files.length} benchmark files, ${failed} failed`);
process.exit(failed ? 1 : 0);
