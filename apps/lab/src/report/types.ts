// What the report renderer takes: runs plus the recipe's own tables, charts and claim check.
import type { RunRecord } from "../run-files";

export interface ReportTable {
  title: string;
  columns: string[];
  rows: (string | number | null)[][];
  note?: string;
}

/** A chart the renderer turns into Vega-Lite → SVG. `data` rows hold the fields named by x, y, color. */
export interface ChartSpec {
  title: string;
  kind: "line" | "bar" | "heatmap" | "point";
  data: Record<string, string | number | null>[];
  x: string;
  y: string;
  color?: string;
  /** Field for the heatmap cell value. */
  value?: string;
  xType?: "quantitative" | "ordinal" | "nominal";
  yType?: "quantitative" | "ordinal" | "nominal";
  xScale?: "linear" | "log";
  yScale?: "linear" | "log";
  xTitle?: string;
  yTitle?: string;
}

/** Whether the paper's claim held at this scale, and the numbers behind the verdict. */
export interface ClaimCheck {
  claim: string;
  holds: boolean | null;
  detail: string;
}

export interface ReportInput {
  title: string;
  description?: string;
  runs: RunRecord[];
  claim?: ClaimCheck;
  tables?: ReportTable[];
  charts?: ChartSpec[];
  notes?: string[];
  /** Environment line(s): backend, adapter, versions, wall time. */
  environment?: Record<string, string>;
  /** The eval metric headlined in tables and plotted against length; default accuracy, else loss. */
  mainMetric?: string;
  /** Trainable parameter count per run name (the engine knows it from the built model). */
  parameters?: Record<string, number>;
}
