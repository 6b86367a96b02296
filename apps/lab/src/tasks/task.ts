// A task: where training batches come from, what the loss is, how a trained model is evaluated.
import type * as tf from "@tensorflow/tfjs";
import type { ModelSpec } from "@attnkit/models";
import type { ChartSpec, ReportTable } from "../report/types";
import type { EvalRow } from "../run-files";

/** One training batch; the caller disposes the tensors. */
export interface TaskBatch {
  inputs: tf.Tensor;
  labels: tf.Tensor;
  /** Positions that carry a label (for tokens/s and loss weighting reports). */
  tokens: number;
}

/** A deterministic stream of training batches whose position can be saved and resumed exactly. */
export interface TaskStream {
  next(): TaskBatch;
  /** JSON-serialisable; `stream({ ..., position })` continues from exactly here. */
  position(): unknown;
}

export interface TaskEvalOptions {
  seed: number;
  batch: number;
  step: number;
  /** Sequence lengths to evaluate at (tasks that vary length); the task's defaults when absent. */
  lengths?: number[];
  /** A cheap evaluation during training (fewer examples). */
  quick?: boolean;
  /** The run directory, for tasks that keep artefacts between evaluations (e.g. routings per checkpoint). */
  dir?: string;
}

export interface TaskInspection {
  tables?: ReportTable[];
  charts?: ChartSpec[];
}

export interface Task {
  readonly name: string;
  readonly description: string;
  /** The options the task was created with (stored in config.json). */
  readonly options: Record<string, unknown>;
  /** Fill the fields the task decides (vocabSize, seqLen, numClasses, image); reject specs it cannot train. */
  adaptSpec(spec: ModelSpec): ModelSpec;
  stream(options: { batch: number; seed: number; position?: unknown }): TaskStream;
  /** Training loss from the labels and the model's output. */
  loss(labels: tf.Tensor, output: tf.Tensor): tf.Scalar;
  evaluate(model: tf.LayersModel, options: TaskEvalOptions): Promise<EvalRow[]>;
  /** Extra report material from a trained model (routing maps, expert loads, retrieval hits). */
  inspect?(model: tf.LayersModel, options: TaskEvalOptions): Promise<TaskInspection>;
}

export type TaskFactory = (options: Record<string, unknown>) => Task;
