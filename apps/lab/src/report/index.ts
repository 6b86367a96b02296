// The report of one run or of a recipe's comparison: report.html (charts as inline SVG) and summary.md.
import { REPORT_HTML, SUMMARY_MD } from "../run-files";
import { writeFilesAtomic } from "./atomic-write";
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

/** Renders, then replaces `DIR/report.html` and `DIR/summary.md` atomically; a failure leaves the old ones. */
export async function writeReport(dir: string, input: ReportInput): Promise<{ html: string; markdown: string }> {
  const out = await renderReport(input);
  await writeFilesAtomic(dir, { [REPORT_HTML]: out.html, [SUMMARY_MD]: out.markdown });
  return out;
}

export type { ReportInput, ReportTable, ChartSpec, ClaimCheck } from "./types";
