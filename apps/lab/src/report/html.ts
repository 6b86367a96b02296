// report.html: one self-contained page (inline CSS and SVG, no network, nothing to run). Each chart's
// data sits next to it as JSON, so readers and tests can check the plotted numbers.
import { claimVerdict, type ReportDocument } from "./document";
import { escapeHtml as esc, jsonForScript } from "./escape";
import { formatCell, isNumericColumn } from "./format";
import type { ReportTable } from "./types";

const STYLE = `
body { font: 15px/1.5 system-ui, sans-serif; color: #1d1d1f; max-width: 1100px; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.7rem; margin-bottom: .3rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; } th { background: #f5f5f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.report-table { overflow-x: auto; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; } .note { color: #555; font-size: 13px; }
.claim { border-left: 5px solid #888; background: #f7f7f7; padding: .6rem 1rem; }
.claim.holds { border-color: #2e7d32; } .claim.fails { border-color: #c62828; }
.verdict { font-weight: 700; text-transform: uppercase; }
figure { margin: 1.5rem 0; } figcaption { font-weight: 600; } svg { max-width: 100%; height: auto; }`;

// Nothing may load or run: the page is read offline and may be opened from untrusted run directories.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

function table(t: ReportTable, index: number): string {
  const numeric = t.columns.map((_, c) => isNumericColumn(t.rows, c));
  const head = t.columns.map((column) => `<th scope="col">${esc(column)}</th>`).join("");
  const body = t.rows
    .map((row) => {
      const cells = row.map((cell, c) =>
        typeof cell === "number"
          ? `<td class="num" data-value="${esc(String(cell))}">${esc(formatCell(cell))}</td>`
          : `<td${numeric[c] ? ' class="num"' : ""}>${esc(formatCell(cell))}</td>`,
      );
      return `<tr>${cells.join("")}</tr>`;
    })
    .join("\n");
  const note = t.note === undefined ? "" : `<p class="note">${esc(t.note)}</p>`;
  return `<section class="report-table" id="table-${index + 1}">
<table><caption>${esc(t.title)}</caption>
<thead><tr>${head}</tr></thead>
<tbody>
${body}
</tbody></table>${note}</section>`;
}

function paragraphs(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((p) => `<p>${esc(p.trim())}</p>`)
    .join("\n");
}

/** `svgs[i]` is chart i drawn, or null for a chart without data. */
export function renderHtml(doc: ReportDocument, svgs: readonly (string | null)[]): string {
  const parts = [`<h1>${esc(doc.title)}</h1>`];
  if (doc.description !== null) parts.push(paragraphs(doc.description));
  if (doc.claim !== null) {
    const verdict = claimVerdict(doc.claim);
    const tone = verdict === "holds" ? "holds" : verdict === "does not hold" ? "fails" : "open";
    parts.push(`<h2>Claim</h2>
<div class="claim ${tone}"><p>${esc(doc.claim.claim)}</p>
<p>Verdict: <span class="verdict">${esc(verdict)}</span></p>
<p>${esc(doc.claim.detail)}</p></div>`);
  }
  if (doc.environment.length > 0) {
    const rows = doc.environment.map(([key, value]) => `<tr><th scope="row">${esc(key)}</th><td>${esc(value)}</td></tr>`);
    parts.push(`<h2>Environment</h2>\n<table class="environment"><tbody>\n${rows.join("\n")}\n</tbody></table>`);
  }
  parts.push(`<h2>Tables</h2>`, ...doc.tables.map(table));
  if (doc.charts.length > 0) {
    parts.push(`<h2>Charts</h2>`);
    doc.charts.forEach((chart, i) => {
      const body = svgs[i] ?? `<p class="note">No data.</p>`;
      parts.push(`<figure class="chart" id="chart-${i + 1}">
<figcaption>${esc(chart.title)}</figcaption>
${body}
<script type="application/json" class="chart-data">${jsonForScript(chart)}</script>
</figure>`);
    });
  }
  if (doc.notes.length > 0) parts.push(`<h2>Notes</h2>\n<ul>\n${doc.notes.map((n) => `<li>${esc(n)}</li>`).join("\n")}\n</ul>`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.title)}</title>
<style>${STYLE}
</style>
</head>
<body>
${parts.join("\n")}
</body>
</html>
`;
}
