// A new run directory: checks the options, adapts and validates the spec, builds the model once (so
// impossible sizes fail here, before anything is written) and writes config.json.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { assertInteger, assertNumber, OptionError } from "@attnkit/core";
import { parseModelSpec, type ModelSpec } from "@attnkit/models";
import { CONFIG_FILE, type RunConfig, type TrainOptions } from "../run-files";
import { createTask } from "../tasks";
import { writeConfig } from "./run-dir";
import { buildModel } from "./train";
import { versions } from "./versions";

export interface RunSetup {
  name: string;
  spec: ModelSpec;
  task: { name: string; options: Record<string, unknown> };
  train: TrainOptions;
  backend: RunConfig["backend"];
  evalLengths?: number[];
  recipe?: string;
}

export function checkTrainOptions(t: TrainOptions): void {
  const fn = "train";
  assertInteger(fn, "--steps", t.steps, { min: 1 });
  assertInteger(fn, "--batch", t.batch, { min: 1 });
  assertNumber(fn, "--lr", t.lr, { min: 0, minExclusive: true, max: 10 });
  assertInteger(fn, "--seed", t.seed, { min: 0, max: 2 ** 31 - 1 });
  assertInteger(fn, "--eval-every", t.evalEvery, { min: 0 });
  assertInteger(fn, "--checkpoint-every", t.checkpointEvery, { min: 0 });
  if (t.warmup !== undefined) assertInteger(fn, "warmup", t.warmup, { min: 0 });
  if (t.clipNorm !== undefined) assertNumber(fn, "clipNorm", t.clipNorm, { min: 0 });
  if (t.logEvery !== undefined) assertInteger(fn, "logEvery", t.logEvery, { min: 1 });
}

export async function startRun(dir: string, setup: RunSetup): Promise<RunConfig> {
  if (existsSync(path.join(dir, CONFIG_FILE))) {
    throw new OptionError(`--out: '${dir}' already holds a run; continue it with 'attnkit-lab resume --run ${dir}' or choose another --out`);
  }
  checkTrainOptions(setup.train);
  const task = createTask(setup.task.name, setup.task.options);
  const adapted = task.adaptSpec(setup.spec);
  const spec = parseModelSpec({ ...adapted, seed: adapted.seed ?? setup.train.seed });
  const config: RunConfig = {
    version: 1,
    name: setup.name,
    createdAt: new Date().toISOString(),
    spec,
    task: { name: task.name, options: task.options },
    train: setup.train,
    backend: setup.backend,
    versions: versions(),
    ...(setup.recipe ? { recipe: setup.recipe } : {}),
    ...(setup.evalLengths ? { evalLengths: setup.evalLengths } : {}),
  };
  const model = buildModel(config);
  config.parameters = model.countParams();
  model.dispose();
  await mkdir(dir, { recursive: true });
  await writeConfig(dir, config);
  return config;
}
