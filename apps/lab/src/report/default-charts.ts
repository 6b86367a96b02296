// The charts every report gets from its runs: training loss, the main metric against length and during
// training, and per-model bars of each final metric.
import type { EvalRow, RunRecord, TrainRow } from "../run-files";
import { compareGroups, finalEvals, groupLabel, metricNames } from "./evals";
import type { ChartSpec } from "./types";

/** Loss curves keep at most this many points per run (evenly strided, the last always kept). */
const MAX_CURVE_POINTS = 1000;
/** Final-metric bar charts beyond this many metrics are left to the tables. */
const MAX_BAR_CHARTS = 8;

type Row = ChartSpec["data"][number];

function thin(rows: readonly TrainRow[]): readonly TrainRow[] {
  if (rows.length <= MAX_CURVE_POINTS) return rows;
  const stride = Math.ceil(rows.length / MAX_CURVE_POINTS);
  return rows.filter((_, i) => i % stride === 0 || i === rows.length - 1);
}

/** A log scale when every value is positive and they span at least `ratio`. */
function logScaleFor(values: number[], ratio: number): "log" | "linear" {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0 || finite.some((v) => v <= 0)) return "linear";
  return Math.max(...finite) / Math.min(...finite) >= ratio ? "log" : "linear";
}

function seriesName(run: string, label: string): string {
  return label === "" ? run : `${run} (${label})`;
}

function lossChart(runs: readonly RunRecord[]): ChartSpec | null {
  const data: Row[] = runs.flatMap((run) => thin(run.train).map((row) => ({ run: run.name, step: row.step, loss: row.loss })));
  if (data.length === 0) return null;
  const yScale = logScaleFor(data.map((row) => row.loss as number), 10);
  return { title: "Training loss", kind: "line", data, x: "step", y: "loss", color: "run", xType: "quantitative", yScale };
}

function lengthChart(runs: readonly RunRecord[], metric: string): ChartSpec | null {
  const data: Row[] = runs.flatMap((run) =>
    finalEvals(run).flatMap((row) => {
      const value = row.metrics[metric];
      if (row.length === null || value === undefined) return [];
      return [{ run: run.name, series: seriesName(run.name, row.variant ?? ""), length: row.length, variant: row.variant ?? null, value }];
    }),
  );
  const lengths = data.map((row) => row.length as number);
  if (new Set(lengths).size < 2) return null;
  return {
    title: `${metric} vs length`, kind: "line", data, x: "length", y: "value", color: "series",
    xType: "quantitative", xScale: logScaleFor(lengths, 8), yTitle: metric,
  };
}

/**
 * The main metric over the evaluations during training, one line per run: the evaluation the run
 * repeated at most steps (quick evaluations usually use one length), ties to the shortest length.
 */
function progressChart(runs: readonly RunRecord[], metric: string): ChartSpec | null {
  const tracks = runs.flatMap((run) => {
    const byLabel = new Map<string, Map<number, EvalRow>>();
    for (const row of run.evals) {
      if (row.metrics[metric] === undefined) continue;
      const label = groupLabel(row);
      byLabel.set(label, (byLabel.get(label) ?? new Map<number, EvalRow>()).set(row.step, row));
    }
    const [best] = [...byLabel.values()].sort((a, b) => b.size - a.size || compareGroups(first(a), first(b)));
    return best !== undefined && best.size >= 2 ? [{ run: run.name, label: groupLabel(first(best)), rows: [...best.values()] }] : [];
  });
  if (tracks.length === 0) return null;
  const labels = new Set(tracks.map((track) => track.label));
  const [only] = labels;
  const data: Row[] = tracks.flatMap(({ run, label, rows }) => {
    const series = labels.size > 1 ? seriesName(run, label) : run;
    return rows.map((row) => ({ run, series, step: row.step, value: row.metrics[metric] as number }));
  });
  const title = labels.size === 1 && only !== undefined && only !== "" ? `${metric} during training (${only})` : `${metric} during training`;
  return { title, kind: "line", data, x: "step", y: "value", color: "series", xType: "quantitative", yTitle: metric };
}

function first(rows: Map<number, EvalRow>): EvalRow {
  return rows.values().next().value as EvalRow;
}

function barCharts(runs: readonly RunRecord[], main: string | null): ChartSpec[] {
  const finals = runs.map((run) => ({ run: run.name, rows: finalEvals(run) }));
  const labels = new Set(finals.flatMap(({ rows }) => rows.map((row) => groupLabel(row))));
  return metricNames(finals.flatMap(({ rows }) => rows), main)
    .slice(0, MAX_BAR_CHARTS)
    .map((metric): ChartSpec => {
      const data: Row[] = finals.flatMap(({ run, rows }) =>
        rows.flatMap((row) => {
          const value = row.metrics[metric];
          return value === undefined ? [] : [{ run, group: groupLabel(row), value }];
        }),
      );
      const chart: ChartSpec = { title: `Final ${metric}`, kind: "bar", data, x: "run", y: "value", yTitle: metric };
      return labels.size > 1 ? { ...chart, color: "group" } : chart;
    });
}

export function defaultCharts(runs: readonly RunRecord[], main: string | null): ChartSpec[] {
  const charts = [lossChart(runs)];
  if (main !== null) charts.push(lengthChart(runs, main), progressChart(runs, main));
  return [...charts.filter((chart): chart is ChartSpec => chart !== null), ...barCharts(runs, main)];
}
