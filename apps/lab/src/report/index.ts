// Placeholder until the report renderer lands: the engine calls writeReport(dir, input).
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { REPORT_HTML, SUMMARY_MD } from "../run-files";
import type { ReportInput } from "./types";

export async function renderReport(input: ReportInput): Promise<{ html: string; markdown: string }> {
  const markdown = `# ${input.title}\n`;
  return { html: `<html><body><pre>${JSON.stringify(input.runs.map((r) => r.name))}</pre></body></html>`, markdown };
}

export async function writeReport(dir: string, input: ReportInput): Promise<{ html: string; markdown: string }> {
  const out = await renderReport(input);
  await writeFile(path.join(dir, REPORT_HTML), out.html);
  await writeFile(path.join(dir, SUMMARY_MD), out.markdown);
  return out;
}
export type { ReportInput, ReportTable, ChartSpec, ClaimCheck } from "./types";
