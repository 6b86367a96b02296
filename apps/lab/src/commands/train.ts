// `train`: a new run from a preset or a spec file on a task.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { OptionError } from "@attnkit/core";
import { preset, presetNames, type ModelSpec, type PresetName } from "@attnkit/models";
import { setupBackend } from "../engine/backend";
import { defaultOutDir } from "../engine/out-dir";
import { startRun } from "../engine/start-run";
import { trainRun } from "../engine/train";
import { REPORT_HTML, type TrainOptions } from "../run-files";
import { interrupted, say, type CommandContext, type ExitCode } from "./context";
import { printEvals } from "./eval";

export interface TrainArgs {
  preset?: string | undefined;
  spec?: string | undefined;
  task: string;
  /** The task's options (e.g. MQAR's vocabSize, seqLen); its defaults otherwise. */
  taskOptions: Record<string, unknown>;
  train: TrainOptions;
  backend?: string | undefined;
  out?: string | undefined;
}

async function readSpec(file: string): Promise<ModelSpec> {
  if (!existsSync(file)) throw new OptionError(`--spec: no such file '${file}'`);
  try {
    return JSON.parse(await readFile(file, "utf8")) as ModelSpec;
  } catch (e) {
    throw new OptionError(`--spec: '${file}' is not valid JSON (${(e as Error).message})`);
  }
}

export async function trainCommand(args: TrainArgs, ctx: CommandContext): Promise<ExitCode> {
  if ((args.preset === undefined) === (args.spec === undefined)) throw new OptionError("train: give exactly one of --preset NAME or --spec FILE");
  let spec: ModelSpec;
  let name: string;
  if (args.preset !== undefined) {
    if (!presetNames.includes(args.preset as PresetName)) throw new OptionError(`--preset: unknown preset '${args.preset}'; known presets: ${presetNames.join(", ")}`);
    spec = preset(args.preset as PresetName);
    name = args.preset;
  } else {
    spec = await readSpec(args.spec!);
    name = typeof spec?.name === "string" ? spec.name : path.basename(args.spec!, ".json");
  }
  const dir = path.resolve(args.out ?? defaultOutDir(`${name}-${args.task}`));
  const backend = await setupBackend(args.backend, (l) => say(ctx, l));
  await startRun(dir, { name, spec, task: { name: args.task, options: args.taskOptions }, train: args.train, backend });
  say(ctx, `run directory: ${dir}`);
  const result = await trainRun(dir, { log: (l) => say(ctx, l), progress: ctx.out, stop: ctx.stop, ...(ctx.stopAfter !== undefined ? { stopAfter: ctx.stopAfter } : {}) });
  if (result.status === "interrupted") return interrupted(ctx, dir, result.step);
  printEvals(ctx, name, result.evals);
  say(ctx, `report: ${path.join(dir, REPORT_HTML)}`);
  return 0;
}
