// A report table as aligned plain text for the terminal.
import type { ReportTable } from "../report/types";

/** One cell as the terminal table shows it. */
export function textCell(v: string | number | null): string {
  if (v === null) return "–";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
  return v;
}

export function textTable(table: ReportTable): string {
  const rows = [table.columns, ...table.rows.map((r) => r.map(textCell))];
  const widths = table.columns.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join("  ");
  return [table.title, line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}
