// Runs every packages/*/examples/*.ts (the files the docs show) and fails if any exits non-zero or
// takes longer than two minutes.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
let failed = 0;
let count = 0;
for (const pkg of readdirSync(path.join(root, "packages")).sort()) {
  const dir = path.join(root, "packages", pkg, "examples");
  if (!existsSync(dir)) continue;
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts")).sort()) {
    const rel = path.join("packages", pkg, "examples", file);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ["--import", "tsx", rel], { cwd: root, encoding: "utf8", timeout: 120_000 });
    count++;
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (r.status === 0) console.log(`ok   ${rel} (${secs} s)`);
    else {
      failed++;
      console.log(`FAIL ${rel} (${secs} s, exit ${r.status ?? r.signal})\n${(r.stdout ?? "").slice(-2000)}${(r.stderr ?? "").slice(-4000)}`);
    }
  }
}
console.log(`examples: ${count - failed} ran, ${failed} failed`);
process.exit(failed ? 1 : 0);
