// The CLI: argument parsing, the default run, Ctrl-C, and exit codes. Bad input (an AttnkitError, an
// unknown option) is one line on stderr and exit 2; an interrupted run exits 130 after its checkpoint.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { AttnkitError, OptionError } from "@attnkit/core";
import { benchCommand } from "./commands/bench";
import { compareCommand } from "./commands/compare";
import { EXIT_DIVERGED, EXIT_INTERRUPTED, type CommandContext, type Output } from "./commands/context";
import { DivergedError } from "./engine/train";
import { evalCommand } from "./commands/eval";
import { reportCommand } from "./commands/report";
import { resumeCommand } from "./commands/resume";
import { trainCommand } from "./commands/train";
import { parseLrs } from "./engine/lr-sweep";
import { defaultOutDir } from "./engine/out-dir";
import type { TrainOptions } from "./run-files";

export const EXIT_BAD_INPUT = 2;

const USAGE = `attnkit-lab: train and evaluate small attnkit models, reproduce the papers' claims, write reports.

Usage:
  attnkit-lab                         the default: compare --recipe mqar --reduced (a few minutes on a CPU)
  attnkit-lab train (--preset NAME | --spec FILE) --task TASK [--task-options JSON] [--steps N] [--batch B] [--lr X] [--seed S]
                    [--backend cpu|wasm|webgpu] [--out DIR] [--eval-every N] [--checkpoint-every N]
  attnkit-lab eval --run DIR [--task TASK] [--lengths 256,1024,4096] [--backend B]
  attnkit-lab compare --recipe NAME [--reduced] [--out DIR] [--backend B] [--steps N] [--batch B] [--lr X | --lrs X,Y,Z]
                      [--jobs N] [--models a,b] [--task-options JSON]
                      (--lrs: train every model at each rate, report each at its best; --lr: one rate, no sweep)
  attnkit-lab resume --run DIR [--backend B] [--jobs N]   continue an interrupted run or comparison
  attnkit-lab report --run DIR                    re-render the report of a run or comparison
  attnkit-lab bench [--filter X] [--out DIR]      run the packages' benchmarks into one report
  attnkit-lab help

Ctrl-C stops after the current step and writes a checkpoint; resume continues exactly.
Exit codes: 0 done, 1 a benchmark missed its target, 2 bad input, 3 a training loss became NaN or infinite, 130 interrupted.`;

type Options = NonNullable<ParseArgsConfig["options"]>;
const str = { type: "string" } as const;
const backend = { backend: str };
// --stop-after is hidden: it stops like Ctrl-C after N steps (tests of interrupt and resume).
const stopAfter = { "stop-after": str };

const COMMANDS: Record<string, Options> = {
  train: { preset: str, spec: str, task: str, "task-options": str, steps: str, batch: str, lr: str, seed: str, out: str, "eval-every": str, "checkpoint-every": str, ...backend, ...stopAfter },
  eval: { run: str, task: str, lengths: str, ...backend },
  compare: { recipe: str, reduced: { type: "boolean" }, out: str, steps: str, batch: str, lr: str, lrs: str, jobs: str, models: str, "task-options": str, ...backend, ...stopAfter },
  resume: { run: str, jobs: str, ...backend, ...stopAfter },
  report: { run: str },
  bench: { filter: str, out: str },
  help: {},
};

function integer(flag: string, value: string | undefined, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n)) throw new OptionError(`--${flag} must be an integer, got '${value}'`);
  return n;
}

function optionalNumber(flag: string, value: string | undefined): number | undefined {
  return value === undefined ? undefined : number(flag, value, Number.NaN);
}

function number(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) throw new OptionError(`--${flag} must be a number, got '${value}'`);
  return n;
}

function jsonObject(flag: string, value: string | undefined): Record<string, unknown> {
  if (value === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (e) {
    throw new OptionError(`--${flag} must be a JSON object, got '${value}' (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new OptionError(`--${flag} must be a JSON object, got '${value}'`);
  return parsed as Record<string, unknown>;
}

function required(flag: string, value: string | undefined, command: string): string {
  if (value === undefined || value === "") throw new OptionError(`${command}: --${flag} is required (see 'attnkit-lab help')`);
  return value;
}

async function dispatch(argv: string[], ctx: CommandContext): Promise<number> {
  const [command = "default", ...rest] = argv;
  if (command === "default") {
    ctx.out.write("attnkit-lab: no command given; running the default (compare --recipe mqar --reduced). 'attnkit-lab help' lists the commands.\n");
    return compareCommand({ recipe: "mqar", reduced: true, out: defaultOutDir("default") }, ctx);
  }
  if (command === "help" || command === "--help" || command === "-h") {
    ctx.out.write(`${USAGE}\n`);
    return 0;
  }
  const options = COMMANDS[command];
  if (!options) throw new OptionError(`unknown command '${command}'; commands: ${Object.keys(COMMANDS).join(", ")}`);
  const { values: v } = parseArgs({ args: rest, options, strict: true, allowPositionals: false }) as { values: Record<string, string | boolean | undefined> };
  const s = (k: string) => v[k] as string | undefined;
  const stop = integer("stop-after", s("stop-after"));
  if (stop !== undefined) ctx.stopAfter = stop;
  switch (command) {
    case "train": {
      const train: TrainOptions = {
        steps: integer("steps", s("steps"), 200)!,
        batch: integer("batch", s("batch"), 16)!,
        lr: number("lr", s("lr"), 1e-3),
        seed: integer("seed", s("seed"), 0)!,
        evalEvery: integer("eval-every", s("eval-every"), 0)!,
        checkpointEvery: integer("checkpoint-every", s("checkpoint-every"), 0)!,
      };
      return trainCommand({ preset: s("preset"), spec: s("spec"), task: required("task", s("task"), "train"), taskOptions: jsonObject("task-options", s("task-options")), train, backend: s("backend"), out: s("out") }, ctx);
    }
    case "eval": {
      const lengths = s("lengths")?.split(",").map((l) => integer("lengths", l.trim())!);
      return evalCommand({ run: required("run", s("run"), "eval"), task: s("task"), lengths, backend: s("backend") }, ctx);
    }
    case "compare": {
      const recipe = required("recipe", s("recipe"), "compare");
      const out = s("out") ?? defaultOutDir(`${recipe}${v.reduced ? "-reduced" : ""}`);
      return compareCommand({ recipe, reduced: v.reduced === true, out, backend: s("backend"), steps: integer("steps", s("steps")), batch: integer("batch", s("batch")), lr: optionalNumber("lr", s("lr")), lrs: s("lrs") === undefined ? undefined : parseLrs("lrs", s("lrs")!), jobs: integer("jobs", s("jobs")),
        models: s("models")?.split(",").map((m) => m.trim()), taskOptions: s("task-options") === undefined ? undefined : jsonObject("task-options", s("task-options")) }, ctx);
    }
    case "resume":
      return resumeCommand({ run: required("run", s("run"), "resume"), backend: s("backend"), jobs: integer("jobs", s("jobs")) }, ctx);
    case "report":
      return reportCommand({ run: required("run", s("run"), "report") }, ctx);
    case "bench":
      return benchCommand({ filter: s("filter"), out: s("out") ?? defaultOutDir("bench") }, ctx);
  }
  return 0;
}

function isBadInput(e: unknown): boolean {
  if (e instanceof AttnkitError) return true;
  // node:util parseArgs: unknown option, missing value, unexpected positional.
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}

export interface MainIo {
  out: Output;
  err: Output;
  /** Install a SIGINT handler (the real CLI); tests leave it off. */
  handleSigint?: boolean;
}

/** Runs the CLI and returns its exit code (cli.ts passes it to process.exit). */
export async function main(argv: string[], io: MainIo = { out: process.stdout, err: process.stderr, handleSigint: true }): Promise<number> {
  const ctx: CommandContext = { out: io.out, stop: { requested: false } };
  const onSigint = () => {
    if (ctx.stop.requested) {
      io.err.write("\nattnkit-lab: second Ctrl-C, quitting now (the last checkpoint is kept)\n");
      process.exit(EXIT_INTERRUPTED);
    }
    ctx.stop.requested = true;
    io.err.write("\nattnkit-lab: stopping after this step and writing a checkpoint (Ctrl-C again to quit at once)\n");
  };
  if (io.handleSigint) process.on("SIGINT", onSigint);
  try {
    return await dispatch(argv, ctx);
  } catch (e) {
    if (isBadInput(e)) {
      io.err.write(`attnkit-lab: ${(e as Error).message.split("\n")[0]}\n`);
      return EXIT_BAD_INPUT;
    }
    if (e instanceof DivergedError) {
      io.err.write(`attnkit-lab: ${e.message}\n`);
      return EXIT_DIVERGED;
    }
    const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
    io.err.write(`attnkit-lab: internal error: ${message}${process.env.ATTNKIT_DEBUG ? `\n${(e as Error).stack}` : " (set ATTNKIT_DEBUG=1 for the stack trace)"}\n`);
    return 1;
  } finally {
    if (io.handleSigint) process.off("SIGINT", onSigint);
  }
}
