// How numbers appear in report tables. Integers stay exact; other values show four significant digits
// (report.html keeps the exact value in each cell's data-value attribute).

export type Cell = string | number | null;

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1e-4 && magnitude < 1e15) return String(Number(value.toPrecision(4)));
  return value.toPrecision(4);
}

export function formatCell(cell: Cell): string {
  if (cell === null) return "–";
  return typeof cell === "number" ? formatNumber(cell) : cell;
}

/** A column is right-aligned when every non-empty cell in it is a number. */
export function isNumericColumn(rows: Cell[][], column: number): boolean {
  let any = false;
  for (const row of rows) {
    const cell = row[column] ?? null;
    if (cell === null) continue;
    if (typeof cell !== "number") return false;
    any = true;
  }
  return any;
}
