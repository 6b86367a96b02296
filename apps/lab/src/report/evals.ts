// Which evaluations count as a run's final ones, how they are labelled, and which metric is headlined.
import { OptionError } from "@attnkit/core";
import type { EvalRow, RunRecord } from "../run-files";

/** The evaluations at a run's last evaluated step, one per (length, variant); a later row wins. */
export function finalEvals(run: RunRecord): EvalRow[] {
  if (run.evals.length === 0) return [];
  const last = Math.max(...run.evals.map((row) => row.step));
  const byGroup = new Map<string, EvalRow>();
  for (const row of run.evals) if (row.step === last) byGroup.set(groupLabel(row), row);
  return [...byGroup.values()].sort(compareGroups);
}

/** "length 256, topK=2", "length 256", "topK=2" or "" for an evaluation without either; `short` drops "length ". */
export function groupLabel(row: Pick<EvalRow, "length" | "variant">, short = false): string {
  const parts: string[] = [];
  if (row.length !== null) parts.push(short ? String(row.length) : `length ${row.length}`);
  if (row.variant !== undefined && row.variant !== "") parts.push(row.variant);
  return parts.join(", ");
}

/** By length (absent first), then variant. */
export function compareGroups(a: Pick<EvalRow, "length" | "variant">, b: Pick<EvalRow, "length" | "variant">): number {
  const byLength = (a.length ?? -Infinity) - (b.length ?? -Infinity);
  if (byLength !== 0) return byLength;
  return (a.variant ?? "").localeCompare(b.variant ?? "", "en", { numeric: true });
}

/** Metric names in the order first seen, with `first` (when given and present) moved to the front. */
export function metricNames(rows: readonly EvalRow[], first?: string | null): string[] {
  const names = new Set<string>();
  for (const row of rows) for (const name of Object.keys(row.metrics)) names.add(name);
  const list = [...names];
  if (first === undefined || first === null || !names.has(first)) return list;
  return [first, ...list.filter((name) => name !== first)];
}

/**
 * The headlined metric: `override` when given (it must be one the runs report), else accuracy, else
 * loss, else the first reported; null when no run has an evaluation.
 */
export function mainMetric(runs: readonly RunRecord[], override?: string): string | null {
  const names = metricNames(runs.flatMap((run) => run.evals));
  if (override !== undefined) {
    if (names.length > 0 && !names.includes(override)) {
      throw new OptionError(`renderReport: mainMetric "${override}" is not an eval metric of any run (they report ${names.join(", ")})`);
    }
    return override;
  }
  if (names.includes("accuracy")) return "accuracy";
  if (names.includes("loss")) return "loss";
  return names[0] ?? null;
}
