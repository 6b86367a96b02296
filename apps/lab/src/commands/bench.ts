// `bench`: runs the packages' benchmarks (packages/*/bench/*.bench.ts, each in its own process as
// `pnpm bench` does), reads the JSON they write and puts their tables in one report.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { OptionError } from "@attnkit/core";
import { writeReport } from "../report";
import type { ReportTable } from "../report/types";
import { REPORT_HTML } from "../run-files";
import { say, type CommandContext, type ExitCode } from "./context";

interface BenchRow {
  name: string;
  value: number;
  unit: string;
  target?: { min?: number; max?: number };
  passed?: boolean;
}

interface BenchFile {
  id: string;
  backend: string;
  date?: string;
  rows: BenchRow[];
}

/** The workspace root: the nearest folder above `from` with pnpm-workspace.yaml. */
export function workspaceRoot(from: string): string | null {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "pnpm-workspace.yaml"))) return dir;
    if (path.dirname(dir) === dir) return null;
  }
}

function benchFiles(root: string, filter: string): string[] {
  const files: string[] = [];
  for (const pkg of readdirSync(path.join(root, "packages")).sort()) {
    const dir = path.join(root, "packages", pkg, "bench");
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) if (f.endsWith(".bench.ts") && `${pkg}/${f}`.includes(filter)) files.push(path.join(dir, f));
  }
  return files;
}

function runOne(root: string, file: string, resultsDir: string, ctx: CommandContext): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: root, env: { ...process.env, ATTNKIT_BENCH_OUT: resultsDir }, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d: Buffer) => ctx.out.write(d.toString()));
    child.stderr.on("data", (d: Buffer) => ctx.out.write(d.toString()));
    child.on("close", (code) => resolve(code ?? 1));
  });
}

function targetText(t: BenchRow["target"]): string | null {
  if (!t) return null;
  return [t.min !== undefined ? `≥ ${t.min}` : "", t.max !== undefined ? `≤ ${t.max}` : ""].filter(Boolean).join(", ");
}

export async function benchCommand(args: { filter?: string | undefined; out: string }, ctx: CommandContext): Promise<ExitCode> {
  const root = workspaceRoot(process.cwd()) ?? workspaceRoot(path.dirname(new URL(import.meta.url).pathname));
  if (!root) throw new OptionError("bench: run it inside the attnkit workspace (no pnpm-workspace.yaml above the current folder)");
  const files = benchFiles(root, args.filter ?? "");
  if (files.length === 0) throw new OptionError(`--filter: no benchmark matches '${args.filter ?? ""}'`);
  const out = path.resolve(args.out);
  const resultsDir = path.join(out, "bench-results");
  await mkdir(resultsDir, { recursive: true });
  const failed: string[] = [];
  for (const file of files) {
    const rel = path.relative(root, file);
    say(ctx, `▶ ${rel}`);
    if ((await runOne(root, file, resultsDir, ctx)) !== 0) failed.push(rel);
  }
  const results: BenchFile[] = [];
  for (const f of readdirSync(resultsDir).filter((f) => f.endsWith(".json")).sort()) results.push(JSON.parse(await readFile(path.join(resultsDir, f), "utf8")) as BenchFile);
  const tables: ReportTable[] = results.map((r) => ({
    title: `${r.id} [${r.backend}]`,
    columns: ["measure", "value", "unit", "target", "passed"],
    rows: r.rows.map((row) => [row.name, row.value, row.unit, targetText(row.target), row.passed === undefined ? null : row.passed ? "yes" : "NO"]),
  }));
  const missed = results.flatMap((r) => r.rows.filter((row) => row.passed === false).map((row) => `${r.id}: ${row.name}`));
  await writeReport(out, {
    title: "attnkit benchmarks",
    description: "Timings as ratios against the dense baseline on the same backend, measured in one process per benchmark file.",
    runs: [],
    tables,
    notes: [
      ...failed.map((f) => `${f} exited with an error`),
      ...(missed.length > 0 ? [`missed targets: ${missed.join("; ")}`] : ["every target was met"]),
    ],
  });
  say(ctx, `${files.length} benchmark files, ${failed.length} failed, ${missed.length} targets missed`);
  say(ctx, `report: ${path.join(out, REPORT_HTML)}`);
  return failed.length > 0 || missed.length > 0 ? 1 : 0;
}
