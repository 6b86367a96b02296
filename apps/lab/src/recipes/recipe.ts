// A recipe: several models trained on one task with the same budget and seeds, evaluated alike, and a
// check of the paper's claim on the results.
import type { ModelSpec } from "@attnkit/models";
import type { SweepScore } from "../engine/lr-sweep";
import type { ChartSpec, ClaimCheck, ReportTable } from "../report/types";
import type { RunRecord, TrainOptions } from "../run-files";

export interface RecipeModel {
  /** Short label used in tables and as the run's directory name. */
  name: string;
  spec: ModelSpec;
  /** Task options that differ for this model (rare; e.g. none). */
  taskOptions?: Record<string, unknown>;
}

export interface RecipeSetup {
  task: { name: string; options: Record<string, unknown> };
  models: RecipeModel[];
  train: TrainOptions;
  /** Evaluation lengths passed to the task, when it varies length. */
  lengths?: number[];
  /** Train every model at each of these learning rates and report its best (`train.lr` is then unused). */
  lrs?: number[];
}

export interface RecipeSummary {
  claim: ClaimCheck;
  tables: ReportTable[];
  charts: ChartSpec[];
  notes?: string[];
}

export interface Recipe {
  readonly name: string;
  readonly title: string;
  /** The paper and the claim reproduced, in a sentence or two. */
  readonly description: string;
  /** The full recipe, and a reduced one (`--reduced`, used by the default `pnpm lab` and tests). */
  setup(options: { reduced: boolean }): RecipeSetup;
  /** What a learning-rate sweep keeps the best rate by (default: the lowest late training loss). */
  readonly sweepScore?: SweepScore;
  /** Check the claim on the finished runs and build the recipe's own tables and charts. */
  summarize(runs: RunRecord[]): RecipeSummary;
}
