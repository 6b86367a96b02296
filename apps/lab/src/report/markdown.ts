// summary.md: the report as Markdown for an issue comment: the results table first, then the claim,
// the other tables, links to the charts in report.html, environment and notes.
import { REPORT_HTML } from "../run-files";
import { claimVerdict, type ReportDocument } from "./document";
import { escapeMarkdown as esc } from "./escape";
import { formatCell, isNumericColumn } from "./format";
import type { ReportTable } from "./types";

function table(t: ReportTable): string {
  const header = `| ${t.columns.map(esc).join(" | ")} |`;
  const rule = `|${t.columns.map((_, c) => (isNumericColumn(t.rows, c) ? " ---: |" : " --- |")).join("")}`;
  const rows = t.rows.map((row) => `| ${row.map((cell) => esc(formatCell(cell))).join(" | ")} |`);
  const lines = [`**${esc(t.title)}**`, "", header, rule, ...rows];
  if (t.note !== undefined) lines.push("", `_${esc(t.note)}_`);
  return lines.join("\n");
}

export function renderMarkdown(doc: ReportDocument): string {
  const [results, ...others] = doc.tables;
  const parts = [`## ${esc(doc.title)}`];
  if (results !== undefined) parts.push(table(results));
  if (doc.claim !== null) {
    parts.push(`**Claim:** ${esc(doc.claim.claim)}\n\n**Verdict: ${claimVerdict(doc.claim)}.** ${esc(doc.claim.detail)}`);
  }
  if (doc.description !== null) parts.push(doc.description.split(/\n\s*\n/).map((p) => esc(p.trim())).join("\n\n"));
  parts.push(...others.map(table));
  if (doc.charts.length > 0) {
    const links = doc.charts.map((chart, i) => `- [${esc(chart.title)}](${REPORT_HTML}#chart-${i + 1})`);
    parts.push(`**Charts** (in ${REPORT_HTML})\n\n${links.join("\n")}`);
  }
  if (doc.environment.length > 0) {
    parts.push(`**Environment**\n\n${doc.environment.map(([key, value]) => `- ${esc(key)}: ${esc(value)}`).join("\n")}`);
  }
  if (doc.notes.length > 0) parts.push(`**Notes**\n\n${doc.notes.map((note) => `- ${esc(note)}`).join("\n")}`);
  return `${parts.join("\n\n")}\n`;
}
