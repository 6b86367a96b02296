// `eval`: evaluates a run's latest checkpoint, optionally at other lengths or on another task. Rows go
// to metrics.jsonl; evaluations of the run's own task also replace the matching rows of eval.json.
import { existsSync } from "node:fs";
import path from "node:path";
import { OptionError } from "@attnkit/core";
import { loadCheckpoint } from "../engine/checkpoint";
import { setupBackend } from "../engine/backend";
import { appendMetrics, assertRunDir, readConfig, readEval, writeEval } from "../engine/run-dir";
import { writeRunReport } from "../engine/run-report";
import { textTable } from "../engine/text-table";
import { COMPARE_FILE, type EvalRow } from "../run-files";
import { createTask } from "../tasks";
import { say, type CommandContext, type ExitCode } from "./context";

export interface EvalArgs {
  run: string;
  task?: string | undefined;
  lengths?: number[] | undefined;
  backend?: string | undefined;
}

export function printEvals(ctx: CommandContext, name: string, rows: EvalRow[]): void {
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  say(ctx, textTable({
    title: `${name}: evaluation`,
    columns: ["length", "variant", ...metrics],
    rows: rows.map((r) => [r.length, r.variant ?? null, ...metrics.map((m) => r.metrics[m] ?? null)]),
  }));
}

const sameSlot = (a: EvalRow, b: EvalRow) => a.length === b.length && (a.variant ?? "") === (b.variant ?? "");

export async function evalCommand(args: EvalArgs, ctx: CommandContext): Promise<ExitCode> {
  const dir = path.resolve(args.run);
  if (existsSync(path.join(dir, COMPARE_FILE))) throw new OptionError(`--run: '${dir}' is a comparison; evaluate one of its runs (${path.join(dir, "runs", "<model>")})`);
  assertRunDir(dir);
  const config = await readConfig(dir);
  await setupBackend(args.backend ?? config.backend.name, (l) => say(ctx, l));
  const own = args.task === undefined || args.task === config.task.name;
  const task = createTask(args.task ?? config.task.name, own ? config.task.options : {});
  const { model, state } = await loadCheckpoint(dir);
  try {
    const lengths = args.lengths ?? config.evalLengths;
    const rows = await task.evaluate(model, { seed: config.train.seed, batch: config.train.batch, step: state.step, dir, ...(lengths ? { lengths } : {}) });
    await appendMetrics(dir, rows);
    if (own) {
      const previous = (await readEval(dir)) ?? [];
      await writeEval(dir, [...previous.filter((p) => !rows.some((r) => sameSlot(p, r))), ...rows]);
      await writeRunReport(dir);
    }
    printEvals(ctx, config.name, rows);
  } finally {
    model.dispose();
  }
  return 0;
}
