// Reading and writing a run directory: config.json, metrics.jsonl, eval.json (names in run-files.ts).
import { existsSync, statSync } from "node:fs";
import { appendFile, readFile } from "node:fs/promises";
import path from "node:path";
import { OptionError } from "@attnkit/core";
import { CONFIG_FILE, EVAL_FILE, METRICS_FILE, type EvalRow, type MetricRow, type RunConfig, type RunRecord, type TrainRow } from "../run-files";
import { writeFileAtomic } from "./atomic";

/** Throws a clear OptionError unless `dir` is a run directory (has config.json). */
export function assertRunDir(dir: string, what = "--run"): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new OptionError(`${what}: no such directory '${dir}'`);
  if (!existsSync(path.join(dir, CONFIG_FILE))) throw new OptionError(`${what}: '${dir}' is not a run directory (no ${CONFIG_FILE})`);
}

async function readJson<T>(file: string): Promise<T> {
  const text = await readFile(file, "utf8");
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new OptionError(`'${file}' is not valid JSON (${(e as Error).message})`);
  }
}

export async function readConfig(dir: string): Promise<RunConfig> {
  assertRunDir(dir);
  return readJson<RunConfig>(path.join(dir, CONFIG_FILE));
}

export async function writeConfig(dir: string, config: RunConfig): Promise<void> {
  await writeFileAtomic(path.join(dir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
}

export async function appendMetrics(dir: string, rows: MetricRow[]): Promise<void> {
  if (rows.length > 0) await appendFile(path.join(dir, METRICS_FILE), rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
}

export async function readMetrics(dir: string): Promise<MetricRow[]> {
  const file = path.join(dir, METRICS_FILE);
  if (!existsSync(file)) return [];
  const lines = (await readFile(file, "utf8")).split("\n").filter((l) => l.trim() !== "");
  // A line cut short by a crash mid-append is the only malformed line possible; it is dropped.
  return lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as MetricRow];
    } catch {
      return [];
    }
  });
}

export async function writeEval(dir: string, rows: EvalRow[]): Promise<void> {
  await writeFileAtomic(path.join(dir, EVAL_FILE), `${JSON.stringify(rows, null, 2)}\n`);
}

/** The final evaluation if the run finished, else null. */
export async function readEval(dir: string): Promise<EvalRow[] | null> {
  const file = path.join(dir, EVAL_FILE);
  return existsSync(file) ? readJson<EvalRow[]>(file) : null;
}

/** A run as the report sees it: its config, its training rows and its evaluations (final ones last). */
export async function readRun(dir: string, name?: string): Promise<RunRecord> {
  const config = await readConfig(dir);
  const rows = await readMetrics(dir);
  return {
    name: name ?? config.name,
    dir,
    config,
    train: rows.filter((r): r is TrainRow => r.kind === "train"),
    evals: rows.filter((r): r is EvalRow => r.kind === "eval"),
  };
}
