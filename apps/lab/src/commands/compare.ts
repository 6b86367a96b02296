// `compare`: trains each model of a recipe into OUT/runs/<model>/ (ordinary run directories) with the
// same budget and seed, then writes OUT/compare.json and the comparison's report. An interrupted
// comparison continues with `resume --run OUT`: finished runs are kept, the interrupted one resumes from
// its checkpoint, the rest start.
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { OptionError } from "@attnkit/core";
import { writeFileAtomic } from "../engine/atomic";
import { setupBackend } from "../engine/backend";
import { formatDuration } from "../engine/progress";
import { readRun } from "../engine/run-dir";
import { trainInChildren, type ChildRun } from "../engine/child-runs";
import { checkTrainOptions, startRun } from "../engine/start-run";
import { trainRun } from "../engine/train";
import { textTable } from "../engine/text-table";
import { writeReport } from "../report";
import { getRecipe } from "../recipes";
import type { RecipeSetup } from "../recipes/recipe";
import { COMPARE_FILE, CONFIG_FILE, EVAL_FILE, REPORT_HTML, RUNS_DIR } from "../run-files";
import { EXIT_INTERRUPTED, interrupted, say, type CommandContext, type ExitCode } from "./context";

function interruptedCompare(ctx: CommandContext, out: string): ExitCode {
  say(ctx, `interrupted; every unfinished run has a checkpoint. Continue with: attnkit-lab resume --run ${out}`);
  return EXIT_INTERRUPTED;
}

export interface CompareArgs {
  recipe: string;
  reduced: boolean;
  out: string;
  backend?: string | undefined;
  steps?: number | undefined;
  batch?: number | undefined;
  lr?: number | undefined;
  jobs?: number | undefined;
  /** Only these of the recipe's models. */
  models?: string[] | undefined;
  /** Task options merged over the recipe's (e.g. fewer test examples). */
  taskOptions?: Record<string, unknown> | undefined;
}

/** `OUT/compare.json`. */
export interface CompareFile {
  version: 1;
  recipe: string;
  reduced: boolean;
  createdAt: string;
  /** The --steps, --batch and --lr overrides, when given. */
  steps?: number;
  batch?: number;
  lr?: number;
  /** The --task-options override, when given. */
  taskOptions?: Record<string, unknown>;
  backend?: string;
  /** The models trained (all of the recipe's unless --models chose some). */
  models: string[];
  /** Summed training wall time of the runs, once all finished. */
  wallMs?: number;
  finishedAt?: string;
}

function setupFor(file: CompareFile): RecipeSetup {
  const setup = getRecipe(file.recipe).setup({ reduced: file.reduced });
  if (file.taskOptions) setup.task = { ...setup.task, options: { ...setup.task.options, ...file.taskOptions } };
  if (file.models.length > 0) {
    const known = setup.models.map((m) => m.name);
    const unknown = file.models.filter((m) => !known.includes(m));
    if (unknown.length > 0) throw new OptionError(`--models: recipe '${file.recipe}' has no model ${unknown.map((m) => `'${m}'`).join(", ")}; its models: ${known.join(", ")}`);
    setup.models = setup.models.filter((m) => file.models.includes(m.name));
  }
  if (file.steps !== undefined) {
    const evalEvery = setup.train.evalEvery >= file.steps ? 0 : setup.train.evalEvery;
    setup.train = { ...setup.train, steps: file.steps, evalEvery };
  }
  if (file.batch !== undefined) setup.train = { ...setup.train, batch: file.batch };
  if (file.lr !== undefined) setup.train = { ...setup.train, lr: file.lr };
  checkTrainOptions(setup.train);
  return setup;
}

export async function readCompareFile(dir: string): Promise<CompareFile> {
  return JSON.parse(await readFile(path.join(dir, COMPARE_FILE), "utf8")) as CompareFile;
}

export async function compareCommand(args: CompareArgs, ctx: CommandContext): Promise<ExitCode> {
  const out = path.resolve(args.out);
  if (existsSync(path.join(out, COMPARE_FILE)) || existsSync(path.join(out, CONFIG_FILE))) {
    throw new OptionError(`--out: '${out}' already holds results; continue it with 'attnkit-lab resume --run ${out}' or choose another --out`);
  }
  const recipe = getRecipe(args.recipe);
  const file: CompareFile = {
    version: 1,
    recipe: recipe.name,
    reduced: args.reduced,
    createdAt: new Date().toISOString(),
    ...(args.steps !== undefined ? { steps: args.steps } : {}),
    ...(args.batch !== undefined ? { batch: args.batch } : {}),
    ...(args.lr !== undefined ? { lr: args.lr } : {}),
    ...(args.backend !== undefined ? { backend: args.backend } : {}),
    ...(args.taskOptions !== undefined ? { taskOptions: args.taskOptions } : {}),
    models: args.models ?? [],
  };
  file.models = setupFor(file).models.map((m) => m.name);
  await mkdir(out, { recursive: true });
  await writeFileAtomic(path.join(out, COMPARE_FILE), `${JSON.stringify(file, null, 2)}\n`);
  return continueCompare(out, ctx, { jobs: args.jobs });
}

/** Parallel runs by default where each process uses one core (wasm, cpu); one at a time on a GPU. */
function defaultJobs(backend: string): number {
  return backend === "webgpu" ? 1 : Math.min(2, availableParallelism());
}

/** Runs (or resumes) every unfinished model of the comparison in `out`, then writes its report. */
export async function continueCompare(out: string, ctx: CommandContext, options: { backend?: string | undefined; jobs?: number | undefined } = {}): Promise<ExitCode> {
  const file = await readCompareFile(out);
  const recipe = getRecipe(file.recipe);
  const setup = setupFor(file);
  say(ctx, `${recipe.title}${file.reduced ? " (reduced)" : ""}: ${setup.models.length} models, ${setup.train.steps} steps each`);
  const backend = await setupBackend(options.backend ?? file.backend, (l) => say(ctx, l));
  const jobs = options.jobs ?? defaultJobs(backend.name);
  if (jobs < 1 || !Number.isInteger(jobs)) throw new OptionError(`--jobs must be a positive integer, got ${jobs}`);
  const pending: ChildRun[] = [];
  for (const model of setup.models) {
    const dir = path.join(out, RUNS_DIR, model.name);
    if (existsSync(path.join(dir, EVAL_FILE))) continue;
    pending.push({ name: model.name, dir });
    if (!existsSync(path.join(dir, CONFIG_FILE))) {
      await startRun(dir, {
        name: model.name,
        spec: model.spec,
        task: { name: setup.task.name, options: { ...setup.task.options, ...model.taskOptions } },
        train: setup.train,
        backend,
        recipe: recipe.name,
        ...(setup.lengths ? { evalLengths: setup.lengths } : {}),
      });
    }
  }
  if (jobs > 1 && pending.length > 1) {
    say(ctx, `training ${pending.length} runs, ${jobs} at a time in child processes`);
    const extra = ["--backend", backend.name, ...(ctx.stopAfter !== undefined ? ["--stop-after", String(ctx.stopAfter)] : [])];
    if ((await trainInChildren(pending, jobs, extra, ctx.out, ctx.stop)) === "interrupted") return interruptedCompare(ctx, out);
  } else {
    for (const { dir } of pending) {
      const result = await trainRun(dir, { log: (l) => say(ctx, l), progress: ctx.out, stop: ctx.stop, ...(ctx.stopAfter !== undefined ? { stopAfter: ctx.stopAfter } : {}) });
      if (result.status === "interrupted") return interrupted(ctx, out, result.step);
    }
  }
  const runs = await Promise.all(file.models.map((m) => readRun(path.join(out, RUNS_DIR, m), m)));
  file.wallMs = runs.reduce((sum, r) => sum + (r.train.at(-1)?.elapsedMs ?? 0), 0);
  file.finishedAt ??= new Date().toISOString();
  await writeFileAtomic(path.join(out, COMPARE_FILE), `${JSON.stringify(file, null, 2)}\n`);
  const summary = await writeCompareReport(out);
  for (const table of summary.tables.slice(0, 1)) say(ctx, `\n${textTable(table)}`);
  const verdict = summary.claim.holds === null ? "inconclusive" : summary.claim.holds ? "holds" : "does not hold";
  say(ctx, `\nclaim: ${summary.claim.claim}: ${verdict}\n  ${summary.claim.detail}`);
  say(ctx, `\nreport: ${path.join(out, REPORT_HTML)}`);
  return 0;
}

/** The comparison's report from its files (also `report --run OUT`). */
export async function writeCompareReport(out: string): Promise<ReturnType<ReturnType<typeof getRecipe>["summarize"]>> {
  const file = await readCompareFile(out);
  const recipe = getRecipe(file.recipe);
  const runs = await Promise.all(file.models.map((m) => readRun(path.join(out, RUNS_DIR, m), m)));
  const summary = recipe.summarize(runs);
  const parameters = Object.fromEntries(runs.flatMap((r) => (r.config.parameters !== undefined ? [[r.name, r.config.parameters]] : [])));
  await writeReport(out, {
    title: `${recipe.title}${file.reduced ? " (reduced)" : ""}`,
    description: recipe.description,
    runs,
    claim: summary.claim,
    tables: summary.tables,
    charts: summary.charts,
    ...(summary.notes ? { notes: summary.notes } : {}),
    parameters,
    environment: {
      recipe: `${recipe.name}${file.reduced ? " --reduced" : ""}${(["steps", "batch", "lr"] as const).map((k) => (file[k] !== undefined ? ` --${k} ${file[k]}` : "")).join("")}`,
      ...(file.wallMs !== undefined ? { "training time (all models)": formatDuration(file.wallMs) } : {}),
    },
  });
  return summary;
}
