// Checks a ReportInput before anything is rendered, so a bad recipe chart or table fails with one line
// naming the offending entry instead of a Vega stack trace or a half-drawn report.
import { OptionError } from "@attnkit/core";
import type { RunRecord } from "../run-files";
import type { ChartSpec, ReportInput, ReportTable } from "./types";
import { heatmapValueField } from "./vega-lite";

const CHART_KINDS: readonly string[] = ["line", "bar", "heatmap", "point"] satisfies ChartSpec["kind"][];

function fail(message: string): never {
  throw new OptionError(`renderReport: ${message}`);
}

function isText(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

function checkRuns(runs: unknown): asserts runs is RunRecord[] {
  if (!Array.isArray(runs)) fail("runs must be an array of run records");
  const seen = new Map<string, number>();
  runs.forEach((run: Partial<RunRecord> | null, i) => {
    if (run === null || typeof run !== "object" || !isText(run.name)) fail(`runs[${i}] needs a non-empty name`);
    if (!Array.isArray(run.train) || !Array.isArray(run.evals)) fail(`runs[${i}] ("${run.name}") needs train and evals arrays`);
    if (typeof run.config?.task?.name !== "string" || typeof run.config.backend?.name !== "string") {
      fail(`runs[${i}] ("${run.name}") needs a config with task.name and backend.name`);
    }
    const earlier = seen.get(run.name);
    if (earlier !== undefined) fail(`runs[${i}] repeats the name "${run.name}" of runs[${earlier}]; charts colour by name`);
    seen.set(run.name, i);
  });
}

function checkTable(table: ReportTable, i: number): void {
  const where = `tables[${i}] ("${String(table?.title)}")`;
  if (!isText(table?.title) || !Array.isArray(table.columns) || !Array.isArray(table.rows)) fail(`${where} needs a title, columns and rows`);
  table.rows.forEach((row, r) => {
    if (!Array.isArray(row) || row.length !== table.columns.length) {
      fail(`${where}: row ${r} has ${Array.isArray(row) ? row.length : "no"} cells for ${table.columns.length} columns`);
    }
  });
}

function checkChart(chart: ChartSpec, i: number): void {
  const where = `charts[${i}] ("${String(chart?.title)}")`;
  if (!isText(chart?.title)) fail(`charts[${i}] needs a title`);
  if (!CHART_KINDS.includes(chart.kind)) fail(`${where}: kind "${String(chart.kind)}" is not one of ${CHART_KINDS.join(", ")}`);
  if (!Array.isArray(chart.data)) fail(`${where}: data must be an array of rows`);
  if (!isText(chart.x) || !isText(chart.y)) fail(`${where} needs x and y field names`);
  const value = chart.kind === "heatmap" ? heatmapValueField(chart) : chart.color;
  if (chart.kind === "heatmap" && value === undefined) fail(`${where}: a heatmap needs a value (or color) field`);
  for (const axis of ["x", "y"] as const) {
    const type = chart[`${axis}Type`];
    if (chart[`${axis}Scale`] === "log" && type !== undefined && type !== "quantitative") fail(`${where}: a log ${axis} scale needs a quantitative ${axis}`);
  }
  if (chart.data.length === 0) return;
  for (const field of [chart.x, chart.y, value]) {
    if (field !== undefined && !chart.data.some((row) => row !== null && typeof row === "object" && field in row)) {
      fail(`${where}: no data row has the field "${field}"`);
    }
  }
}

export function validateInput(input: ReportInput): void {
  if (input === null || typeof input !== "object" || !isText(input.title)) fail("input needs a non-empty title");
  checkRuns(input.runs);
  if (input.tables !== undefined && !Array.isArray(input.tables)) fail("tables must be an array");
  input.tables?.forEach(checkTable);
  if (input.charts !== undefined && !Array.isArray(input.charts)) fail("charts must be an array");
  input.charts?.forEach(checkChart);
  for (const [name, count] of Object.entries(input.parameters ?? {})) {
    if (!Number.isFinite(count)) fail(`parameters["${name}"] must be a finite number, got ${String(count)}`);
  }
}
