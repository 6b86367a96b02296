// The report of one run, rebuilt from its files alone (so `report --run DIR` needs no model).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { writeReport } from "../report";
import { INSPECT_FILE, REPORT_HTML } from "../run-files";
import type { TaskInspection } from "../tasks/task";
import { formatDuration } from "./progress";
import { readRun } from "./run-dir";

export async function writeRunReport(dir: string): Promise<string> {
  const run = await readRun(dir);
  const file = path.join(dir, INSPECT_FILE);
  const inspection = existsSync(file) ? (JSON.parse(await readFile(file, "utf8")) as TaskInspection) : {};
  const last = run.train.at(-1);
  const { config } = run;
  await writeReport(dir, {
    title: `${config.name} on ${config.task.name}`,
    description: `${config.train.steps} steps, batch ${config.train.batch}, lr ${config.train.lr}, seed ${config.train.seed}.`,
    runs: [run],
    ...(inspection.tables ? { tables: inspection.tables } : {}),
    ...(inspection.charts ? { charts: inspection.charts } : {}),
    ...(config.parameters !== undefined ? { parameters: { [run.name]: config.parameters } } : {}),
    environment: { "training time": last ? formatDuration(last.elapsedMs) : "not trained" },
  });
  return path.join(dir, REPORT_HTML);
}
