// Everything a report shows, in the order it shows it; the HTML and Markdown writers both render this.
import type { ChartSpec, ClaimCheck, ReportInput, ReportTable } from "./types";
import { defaultCharts } from "./default-charts";
import { environmentEntries } from "./environment";
import { mainMetric } from "./evals";
import { evaluationTable, resultsTable } from "./results";

export interface ReportDocument {
  title: string;
  description: string | null;
  claim: ClaimCheck | null;
  environment: [string, string][];
  /** The results table first, then the evaluation table (several lengths/variants), then the recipe's. */
  tables: ReportTable[];
  /** Default charts from the runs, then the recipe's. */
  charts: ChartSpec[];
  notes: string[];
}

export function buildDocument(input: ReportInput): ReportDocument {
  const main = mainMetric(input.runs, input.mainMetric);
  const evaluation = evaluationTable(input.runs, main);
  return {
    title: input.title,
    description: input.description ?? null,
    claim: input.claim ?? null,
    environment: environmentEntries(input.runs, input.environment),
    tables: [resultsTable(input.runs, main, input.parameters), ...(evaluation ? [evaluation] : []), ...(input.tables ?? [])],
    charts: [...defaultCharts(input.runs, main), ...(input.charts ?? [])],
    notes: input.notes ?? [],
  };
}

export function claimVerdict(claim: ClaimCheck): "holds" | "does not hold" | "inconclusive" {
  if (claim.holds === null) return "inconclusive";
  return claim.holds ? "holds" : "does not hold";
}
