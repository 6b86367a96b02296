// `resume`: continues an interrupted run (from its checkpoint) or comparison (its unfinished runs).
import { existsSync } from "node:fs";
import path from "node:path";
import { setupBackend } from "../engine/backend";
import { assertRunDir, readConfig } from "../engine/run-dir";
import { trainRun } from "../engine/train";
import { COMPARE_FILE, REPORT_HTML } from "../run-files";
import { continueCompare } from "./compare";
import { interrupted, say, type CommandContext, type ExitCode } from "./context";
import { printEvals } from "./eval";

export async function resumeCommand(args: { run: string; backend?: string | undefined; jobs?: number | undefined }, ctx: CommandContext): Promise<ExitCode> {
  const dir = path.resolve(args.run);
  if (existsSync(path.join(dir, COMPARE_FILE))) return continueCompare(dir, ctx, { backend: args.backend, jobs: args.jobs });
  assertRunDir(dir);
  const config = await readConfig(dir);
  // The run's own backend by default: an exact continuation needs the same arithmetic.
  await setupBackend(args.backend ?? config.backend.name, (l) => say(ctx, l));
  const result = await trainRun(dir, { log: (l) => say(ctx, l), progress: ctx.out, stop: ctx.stop, ...(ctx.stopAfter !== undefined ? { stopAfter: ctx.stopAfter } : {}) });
  if (result.status === "interrupted") return interrupted(ctx, dir, result.step);
  printEvals(ctx, config.name, result.evals);
  say(ctx, `report: ${path.join(dir, REPORT_HTML)}`);
  return 0;
}
