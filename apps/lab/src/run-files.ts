// The files a run directory holds and their row types. Every writer and reader of a run (train, eval,
// resume, compare, report) goes through these names and types.
import type { ModelSpec } from "@attnkit/models";

export const CONFIG_FILE = "config.json";
export const METRICS_FILE = "metrics.jsonl";
export const EVAL_FILE = "eval.json";
export const CHECKPOINT_DIR = "checkpoint";
export const REPORT_HTML = "report.html";
export const SUMMARY_MD = "summary.md";
/** Extra report material from task.inspect, kept so `report --run` can re-render without the model. */
export const INSPECT_FILE = "inspect.json";
/** A comparison's directory: its recipe, options and the runs' names (each run under runs/<name>/). */
export const COMPARE_FILE = "compare.json";
export const RUNS_DIR = "runs";

export interface TrainOptions {
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  /** Evaluate (quick) every this many steps; 0 = only at the end. */
  evalEvery: number;
  /** Write a checkpoint every this many steps; 0 = only at the end (and on Ctrl-C). */
  checkpointEvery: number;
  /** Linear warm-up steps before the cosine decay; default min(100, 10% of steps). */
  warmup?: number;
  /** Clip gradients to this global norm; default 1; 0 = no clipping. */
  clipNorm?: number;
  /** Write a TrainRow every this many steps; default max(1, floor(steps / 500)). */
  logEvery?: number;
}

/** `DIR/config.json`: everything needed to reproduce or resume the run. */
export interface RunConfig {
  version: 1;
  name: string;
  createdAt: string;
  spec: ModelSpec;
  task: { name: string; options: Record<string, unknown> };
  train: TrainOptions;
  backend: { name: string; adapter?: string; hardware?: boolean; note?: string };
  versions: Record<string, string>;
  /** Set when the run belongs to a recipe comparison. */
  recipe?: string;
  /** Lengths the final evaluation uses (tasks that vary length); the task's defaults when absent. */
  evalLengths?: number[];
  /** Trainable parameters of the built model. */
  parameters?: number;
}

/** One line of `metrics.jsonl` per logged training step. */
export interface TrainRow {
  kind: "train";
  step: number;
  loss: number;
  lr: number;
  tokensPerSec: number;
  elapsedMs: number;
  /** Auxiliary losses and statistics (e.g. MoE load-balancing loss), by name. */
  extra?: Record<string, number>;
}

/** One evaluation result; `metrics.jsonl` holds them with `kind: "eval"`, `eval.json` the final ones. */
export interface EvalRow {
  kind: "eval";
  step: number;
  /** Sequence length (or other size) evaluated at, when the task varies it. */
  length: number | null;
  /** Variant of the evaluation (e.g. "topK=2"), when the task has several. */
  variant?: string;
  metrics: Record<string, number>;
}

export type MetricRow = TrainRow | EvalRow;

/** A run as the report sees it. */
export interface RunRecord {
  name: string;
  dir: string;
  config: RunConfig;
  train: TrainRow[];
  evals: EvalRow[];
}
