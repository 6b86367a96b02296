// The results table (one row per run) and, when runs were evaluated at several lengths or variants, the
// evaluation table with every final metric of every (run, length, variant).
import type { RunRecord, TrainRow } from "../run-files";
import { compareGroups, finalEvals, groupLabel, metricNames } from "./evals";
import type { Cell } from "./format";
import type { ReportTable } from "./types";

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Steps, wall time (s) and tokens/s, then the final training loss; empty cells for a run not trained. */
function trainingCells(train: readonly TrainRow[]): { progress: Cell[]; loss: Cell } {
  const last = train.at(-1);
  if (last === undefined) return { progress: [null, null, null], loss: null };
  return { progress: [last.step, last.elapsedMs / 1000, median(train.map((row) => row.tokensPerSec))], loss: last.loss };
}

/** Whether the runs' final evaluations span several lengths or variants (within a run or across runs). */
function hasSeveralEvalGroups(runs: readonly RunRecord[]): boolean {
  return new Set(runs.flatMap((run) => finalEvals(run).map((row) => groupLabel(row)))).size > 1;
}

export function resultsTable(runs: readonly RunRecord[], main: string | null, parameters: Record<string, number> = {}): ReportTable {
  const finals = runs.map(finalEvals);
  const withParameters = runs.some((run) => parameters[run.name] !== undefined);
  const columns = ["run", "task", "steps", "wall time (s)", "tokens/s", ...(withParameters ? ["parameters"] : []), "final train loss"];
  const notes = ["Wall time is training time up to the last logged step; tokens/s is the median over logged steps."];
  let evalColumns: string[];
  let evalCells: (runIndex: number) => Cell[];

  if (hasSeveralEvalGroups(runs) && main !== null) {
    // Several lengths/variants: headline the main metric at each of them.
    const labels = [...new Set(finals.flat().sort(compareGroups).map((row) => groupLabel(row, true)))];
    evalColumns = labels.map((label) => (label === "" ? main : `${main} @ ${label}`));
    evalCells = (i) => labels.map((label) => finals[i]?.find((row) => groupLabel(row, true) === label)?.metrics[main] ?? null);
    notes.push(`Final ${main} at each evaluated length/variant; the evaluation table below has every metric.`);
  } else {
    const metrics = metricNames(finals.flat(), main);
    const labels = new Set(finals.flat().map((row) => groupLabel(row)));
    const [only] = labels;
    const suffix = labels.size === 1 && only !== undefined && only !== "" ? ` (${only})` : "";
    evalColumns = metrics.map((metric) => `${metric}${suffix}`);
    evalCells = (i) => metrics.map((metric) => finals[i]?.[0]?.metrics[metric] ?? null);
  }

  const rows = runs.map((run, i): Cell[] => {
    const { progress, loss } = trainingCells(run.train);
    const params = withParameters ? [parameters[run.name] ?? null] : [];
    return [run.name, run.config.task.name, ...progress, ...params, loss, ...evalCells(i)];
  });
  return { title: "Results", columns: [...columns, ...evalColumns], rows, note: notes.join(" ") };
}

/** Every final metric per (run, length, variant); null when all final evaluations share one length and variant. */
export function evaluationTable(runs: readonly RunRecord[], main: string | null): ReportTable | null {
  if (!hasSeveralEvalGroups(runs)) return null;
  const finals = runs.map(finalEvals);
  const metrics = metricNames(finals.flat(), main);
  const withVariant = finals.flat().some((row) => row.variant !== undefined && row.variant !== "");
  const rows = runs.flatMap((run, i) =>
    (finals[i] ?? []).map((row): Cell[] => [
      run.name,
      row.length,
      ...(withVariant ? [row.variant ?? null] : []),
      ...metrics.map((metric) => row.metrics[metric] ?? null),
    ]),
  );
  return { title: "Evaluation", columns: ["run", "length", ...(withVariant ? ["variant"] : []), ...metrics], rows, note: "Final evaluation of each run at each length and variant." };
}
