// Shared by the lab's CLI tests: tiny sizes so a run trains in seconds on the cpu backend.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { ModelSpec } from "@attnkit/models";
import { main } from "../src/main";
import type { EvalRow, RunConfig, RunRecord, TrainRow } from "../src/run-files";
import type { Task } from "../src/tasks/task";

/** MQAR small enough for a 1-layer, 16-wide model: 2 pairs in 16 tokens, vocabulary 64. */
export const TINY_TASK = JSON.stringify({ vocabSize: 64, seqLen: 16, numKvPairs: 2, trainExamples: 64, testExamples: 8 });

export const TINY_SPEC = { version: 1, family: "decoder", name: "tiny", vocabSize: 64, seqLen: 16, dModel: 16, heads: 2, numLayers: 1 };

export async function tempDir(prefix = "attnkit-lab-"): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

export async function tinySpecFile(dir: string, spec: object = TINY_SPEC): Promise<string> {
  const file = path.join(dir, "spec.json");
  await writeFile(file, JSON.stringify(spec));
  return file;
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI's main in this process and captures what it prints. */
export async function cli(...argv: string[]): Promise<CliResult> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

/** `train` of the tiny spec on tiny MQAR on cpu into `out`. */
export function trainArgs(spec: string, out: string, ...extra: string[]): string[] {
  return ["train", "--spec", spec, "--task", "mqar", "--task-options", TINY_TASK, "--batch", "4", "--lr", "0.01", "--seed", "3", "--backend", "cpu", "--out", out, ...extra];
}

/** Adam steps on one batch of a task's stream; the losses, to check that a task's loss can be minimised. */
export async function lossesOnOneBatch(task: Task, model: tf.LayersModel, options: { batch: number; seed: number; lr: number; steps: number }): Promise<number[]> {
  const b = task.stream({ batch: options.batch, seed: options.seed }).next();
  const opt = tf.train.adam(options.lr);
  const losses: number[] = [];
  for (let i = 0; i < options.steps; i++) {
    const l = opt.minimize(() => task.loss(b.labels, model.apply(b.inputs, { training: true }) as tf.Tensor), true)!;
    losses.push((await l.data())[0]!);
    l.dispose();
  }
  tf.dispose([b.inputs, b.labels]);
  opt.dispose();
  return losses;
}

/** A run held in memory (recipe, report and sweep tests): a small cpu run's config unless `config` says otherwise. */
export function runRecord(name: string, parts: { spec?: ModelSpec; train?: TrainRow[]; evals?: EvalRow[]; config?: Partial<RunConfig> } = {}): RunRecord {
  return {
    name,
    dir: `/runs/${name}`,
    config: {
      version: 1,
      name,
      createdAt: "2026-11-28T00:00:00.000Z",
      spec: parts.spec ?? (TINY_SPEC as ModelSpec),
      task: { name: "mqar", options: {} },
      train: { steps: 100, batch: 32, lr: 1e-3, seed: 0, evalEvery: 0, checkpointEvery: 0 },
      backend: { name: "cpu" },
      versions: {},
      ...parts.config,
    },
    train: parts.train ?? [],
    evals: parts.evals ?? [],
  };
}
