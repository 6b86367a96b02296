// `report`: re-renders the report of a run or a comparison from its files.
import { existsSync } from "node:fs";
import path from "node:path";
import { assertRunDir } from "../engine/run-dir";
import { writeRunReport } from "../engine/run-report";
import { COMPARE_FILE, REPORT_HTML } from "../run-files";
import { writeCompareReport } from "./compare";
import { say, type CommandContext, type ExitCode } from "./context";

export async function reportCommand(args: { run: string }, ctx: CommandContext): Promise<ExitCode> {
  const dir = path.resolve(args.run);
  if (existsSync(path.join(dir, COMPARE_FILE))) await writeCompareReport(dir);
  else {
    assertRunDir(dir);
    await writeRunReport(dir);
  }
  say(ctx, `report: ${path.join(dir, REPORT_HTML)}`);
  return 0;
}
