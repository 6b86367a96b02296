// The report of one run or of a recipe's comparison: report.html (charts as inline SVG) and summary.md.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../engine/atomic";
import { REPORT_HTML, SUMMARY_MD } from "../run-files";
import { buildDocument } from "./document";
import { renderHtml } from "./html";
import { renderMarkdown } from "./markdown";
import { renderSvg } from "./svg";
import type { ReportInput } from "./types";
import { validateInput } from "./validate";
import { toVegaLite } from "./vega-lite";

export async function renderReport(input: ReportInput): Promise<{ html: string; markdown: string }> {
  validateInput(input);
  const doc = buildDocument(input);
  const svgs: (string | null)[] = [];
  // One at a time: rendering is CPU-bound, so in parallel would only interleave.
  for (const [i, chart] of doc.charts.entries()) {
    svgs.push(chart.data.length === 0 ? null : await renderSvg(toVegaLite(chart), `chart${i + 1}-`));
  }
  return { html: renderHtml(doc, svgs), markdown: renderMarkdown(doc) };
}

/**
 * Renders first, then replaces `DIR/report.html` and `DIR/summary.md`, each atomically: a failure or an
 * interruption leaves every file either old or new, never half written.
 */
export async function writeReport(dir: string, input: ReportInput): Promise<{ html: string; markdown: string }> {
  const out = await renderReport(input);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, REPORT_HTML), out.html);
  await writeFileAtomic(path.join(dir, SUMMARY_MD), out.markdown);
  return out;
}

export type { ReportInput, ReportTable, ChartSpec, ClaimCheck } from "./types";
