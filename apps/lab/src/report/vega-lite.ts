// A ChartSpec as a Vega-Lite spec: one mark, x/y (optionally log) scales, colour by a field, titles.
import type { TopLevelSpec } from "vega-lite";
import type { ChartSpec } from "./types";

type FieldType = "quantitative" | "ordinal" | "nominal";

const WIDTH = 520;
const HEIGHT = 280;
/** Heatmap axes with more categories than this get a fixed size instead of one step per cell. */
const MAX_HEATMAP_STEPS = 30;
/** A log axis over at most this many distinct values ticks exactly at them (e.g. lengths 256, 1024, 4096). */
const MAX_EXACT_TICKS = 12;
/** Lines with at most this many points mark each point too. */
const MAX_MARKED_POINTS = 200;

const MARKS = {
  line: (points: number) => ({ type: "line", point: points <= MAX_MARKED_POINTS }),
  bar: () => ({ type: "bar" }),
  point: () => ({ type: "point", filled: true }),
  heatmap: () => ({ type: "rect" }),
} as const;

/** Vega-Lite reads `.`, `[` and `]` in a field name as nested access; metric names are flat. */
function fieldRef(name: string): string {
  return name.replace(/[.[\]\\]/g, (c) => `\\${c}`);
}

function isNumeric(data: ChartSpec["data"], field: string): boolean {
  return data.every((row) => row[field] === null || row[field] === undefined || typeof row[field] === "number");
}

/** Numbers are quantities on line and point charts and categories on bars and heatmaps; text is nominal. */
function defaultType(chart: ChartSpec, field: string, axis: "x" | "y"): FieldType {
  if (!isNumeric(chart.data, field)) return "nominal";
  if (chart.kind === "heatmap" || (chart.kind === "bar" && axis === "x")) return "ordinal";
  return "quantitative";
}

function distinct(data: ChartSpec["data"], field: string): number {
  return new Set(data.map((row) => row[field])).size;
}

function logAxis(data: ChartSpec["data"], field: string) {
  const values = [...new Set(data.map((row) => row[field]))].filter((v): v is number => typeof v === "number" && v > 0);
  const axis = values.length <= MAX_EXACT_TICKS ? { axis: { values: values.sort((a, b) => a - b), format: "~g" } } : {};
  return { scale: { type: "log" }, ...axis };
}

/** Category labels along x stay horizontal while they fit the chart's width, else tilt. */
function categoryAxis(data: ChartSpec["data"], field: string) {
  const labels = [...new Set(data.map((row) => String(row[field])))];
  const width = labels.reduce((sum, label) => sum + label.length + 2, 0);
  return { axis: { labelAngle: width * 6 <= WIDTH ? 0 : -40 } };
}

function positionChannel(chart: ChartSpec, axis: "x" | "y") {
  const field = chart[axis];
  const type = chart[`${axis}Type`] ?? defaultType(chart, field, axis);
  const log = chart[`${axis}Scale`] === "log";
  return {
    ...(axis === "x" && type !== "quantitative" ? categoryAxis(chart.data, field) : {}),
    field: fieldRef(field),
    type,
    title: chart[`${axis}Title`] ?? field,
    // Named categories (runs, variants) keep the order the data gives them; numbered ones sort.
    ...(type === "nominal" ? { sort: null } : {}),
    ...(log ? logAxis(chart.data, field) : chart.kind === "line" || chart.kind === "point" ? { scale: { zero: false } } : {}),
  };
}

/** The field heatmap cells are coloured by. */
export function heatmapValueField(chart: ChartSpec): string | undefined {
  return chart.value ?? chart.color;
}

export function toVegaLite(chart: ChartSpec): TopLevelSpec {
  const encoding: Record<string, unknown> = { x: positionChannel(chart, "x"), y: positionChannel(chart, "y") };
  const size: Record<string, number> = { width: WIDTH, height: HEIGHT };
  if (chart.kind === "heatmap") {
    const value = heatmapValueField(chart) as string;
    encoding.color = { field: fieldRef(value), type: "quantitative", title: value, scale: { scheme: "viridis" } };
    // Few categories: one square step per cell; many: the chart's fixed size.
    if (distinct(chart.data, chart.x) <= MAX_HEATMAP_STEPS) delete size.width;
    if (distinct(chart.data, chart.y) <= MAX_HEATMAP_STEPS) delete size.height;
  } else if (chart.color !== undefined) {
    encoding.color = { field: fieldRef(chart.color), type: "nominal", title: chart.color, sort: null };
    // Side-by-side bars per colour rather than a stack: the values are separate results, not parts.
    if (chart.kind === "bar") encoding.xOffset = { field: fieldRef(chart.color), type: "nominal", sort: null };
  }
  // No title: the page's caption carries it.
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    ...size,
    background: "white",
    // Copies: Vega tags the rows it is given with ids, and the caller's rows must stay as they were.
    data: { values: chart.data.map((row) => ({ ...row })) },
    mark: MARKS[chart.kind](chart.data.length),
    encoding,
    config: { font: "system-ui, sans-serif" },
  } as TopLevelSpec;
}
