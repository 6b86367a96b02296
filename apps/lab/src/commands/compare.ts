// `compare`: trains each model of a recipe into OUT/runs/<model>/ (ordinary run directories) with the
// same budget and seed, then writes OUT/compare.json and the comparison's report. With a learning-rate
// sweep (the recipe's, or --lrs) each model trains at every rate into OUT/runs/<model>@<rate>/ and is
// reported at its best rate. An interrupted comparison continues with `resume --run OUT`: finished (and
// diverged) runs are kept, the interrupted one resumes from its checkpoint, the rest start.
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
import { bestRun, checkLrs, diverged, finished, formatLr, lateTrainingLoss, sweepRunName, sweepTable, type SweptModel } from "../engine/lr-sweep";
import { checkTrainOptions, startRun } from "../engine/start-run";
import { DivergedError, trainRun } from "../engine/train";
import { textTable } from "../engine/text-table";
import { writeReport } from "../report";
import { getRecipe } from "../recipes";
import type { RecipeModel, RecipeSetup } from "../recipes/recipe";
import { COMPARE_FILE, CONFIG_FILE, EVAL_FILE, REPORT_HTML, RUNS_DIR, type TrainOptions } from "../run-files";
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
  /** A learning-rate sweep instead of the recipe's rate(s). */
  lrs?: number[] | undefined;
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
  /** The --steps, --batch, --lr and --lrs overrides, when given. */
  steps?: number;
  batch?: number;
  lr?: number;
  lrs?: number[];
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
  // --lr trains every model at one rate (no sweep); --lrs replaces the recipe's sweep.
  if (file.lr !== undefined) {
    setup.train = { ...setup.train, lr: file.lr };
    delete setup.lrs;
  }
  if (file.lrs !== undefined) setup.lrs = file.lrs;
  checkTrainOptions(setup.train);
  if (setup.lrs) checkLrs("lrs", setup.lrs);
  return setup;
}

/** One run of the comparison: a model at one learning rate. */
interface PlannedRun {
  model: RecipeModel;
  name: string;
  dir: string;
  train: TrainOptions;
  /** Set in a sweep. */
  lr?: number;
}

function plannedRuns(out: string, setup: RecipeSetup): PlannedRun[] {
  const dir = (name: string) => path.join(out, RUNS_DIR, name);
  return setup.models.flatMap((model) => {
    if (!setup.lrs) return [{ model, name: model.name, dir: dir(model.name), train: setup.train }];
    return setup.lrs.map((lr) => ({ model, name: sweepRunName(model.name, lr), dir: dir(sweepRunName(model.name, lr)), train: { ...setup.train, lr }, lr }));
  });
}

/** The runs of each model as the report sees them (the sweep's rates in order; one run without a sweep). */
async function readSwept(out: string, setup: RecipeSetup): Promise<SweptModel[]> {
  const planned = plannedRuns(out, setup);
  return Promise.all(
    setup.models.map(async (model) => ({
      model: model.name,
      runs: await Promise.all(planned.filter((p) => p.model === model).map(async (p) => ({ lr: p.train.lr, run: await readRun(p.dir, p.name) }))),
    })),
  );
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
  if (args.lr !== undefined && args.lrs !== undefined) throw new OptionError("--lr and --lrs exclude each other: --lr trains every model at one rate, --lrs at each of several");
  const file: CompareFile = {
    version: 1,
    recipe: recipe.name,
    reduced: args.reduced,
    createdAt: new Date().toISOString(),
    ...(args.steps !== undefined ? { steps: args.steps } : {}),
    ...(args.batch !== undefined ? { batch: args.batch } : {}),
    ...(args.lr !== undefined ? { lr: args.lr } : {}),
    ...(args.lrs !== undefined ? { lrs: args.lrs } : {}),
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
  const sweep = setup.lrs ? `, at each learning rate of ${setup.lrs.map(formatLr).join(", ")}` : "";
  say(ctx, `${recipe.title}${file.reduced ? " (reduced)" : ""}: ${setup.models.length} models, ${setup.train.steps} steps each${sweep}`);
  const backend = await setupBackend(options.backend ?? file.backend, (l) => say(ctx, l));
  const jobs = options.jobs ?? defaultJobs(backend.name);
  if (jobs < 1 || !Number.isInteger(jobs)) throw new OptionError(`--jobs must be a positive integer, got ${jobs}`);
  const pending: ChildRun[] = [];
  for (const { model, name, dir, train } of plannedRuns(out, setup)) {
    if (existsSync(path.join(dir, CONFIG_FILE))) {
      if (existsSync(path.join(dir, EVAL_FILE)) || diverged(await readRun(dir, name))) continue;
    } else {
      await startRun(dir, {
        name,
        spec: model.spec,
        task: { name: setup.task.name, options: { ...setup.task.options, ...model.taskOptions } },
        train,
        backend,
        recipe: recipe.name,
        ...(setup.lengths ? { evalLengths: setup.lengths } : {}),
      });
    }
    pending.push({ name, dir });
  }
  if (jobs > 1 && pending.length > 1) {
    say(ctx, `training ${pending.length} runs, ${jobs} at a time in child processes`);
    const extra = ["--backend", backend.name, ...(ctx.stopAfter !== undefined ? ["--stop-after", String(ctx.stopAfter)] : [])];
    if ((await trainInChildren(pending, jobs, extra, ctx.out, ctx.stop)) === "interrupted") return interruptedCompare(ctx, out);
  } else {
    for (const { dir } of pending) {
      try {
        const result = await trainRun(dir, { log: (l) => say(ctx, l), progress: ctx.out, stop: ctx.stop, ...(ctx.stopAfter !== undefined ? { stopAfter: ctx.stopAfter } : {}) });
        if (result.status === "interrupted") return interrupted(ctx, out, result.step);
      } catch (e) {
        // A diverged run is an outcome (its metrics say where); the comparison goes on.
        if (!(e instanceof DivergedError)) throw e;
        say(ctx, e.message);
      }
    }
  }
  const swept = await readSwept(out, setup);
  const lost = swept.filter((m) => m.runs.every(({ run }) => !finished(run))).map((m) => m.model);
  if (lost.length > 0) {
    const where = setup.lrs ? "at every learning rate of the sweep" : `at lr ${formatLr(setup.train.lr)}`;
    throw new DivergedError(`the training loss of ${lost.join(", ")} became NaN or infinite ${where} (see the output above); the other runs finished. Try a lower --lr`);
  }
  file.wallMs = swept.flatMap((m) => m.runs).reduce((sum, { run }) => sum + (run.train.at(-1)?.elapsedMs ?? 0), 0);
  file.finishedAt ??= new Date().toISOString();
  await writeFileAtomic(path.join(out, COMPARE_FILE), `${JSON.stringify(file, null, 2)}\n`);
  const summary = await writeCompareReport(out);
  for (const table of [summary.tables[0], ...(setup.lrs ? [summary.tables.at(-1)] : [])]) if (table) say(ctx, `\n${textTable(table)}`);
  const verdict = summary.claim.holds === null ? "inconclusive" : summary.claim.holds ? "holds" : "does not hold";
  say(ctx, `\nclaim: ${summary.claim.claim}: ${verdict}\n  ${summary.claim.detail}`);
  say(ctx, `\nreport: ${path.join(out, REPORT_HTML)}`);
  return 0;
}

/** The comparison's report from its files (also `report --run OUT`). */
export async function writeCompareReport(out: string): Promise<ReturnType<ReturnType<typeof getRecipe>["summarize"]>> {
  const file = await readCompareFile(out);
  const recipe = getRecipe(file.recipe);
  const setup = setupFor(file);
  const swept = await readSwept(out, setup);
  // In a sweep each model's best finished run stands for it (a model none of whose runs finished is left out).
  const score = recipe.sweepScore ?? lateTrainingLoss;
  const kept = setup.lrs ? swept.flatMap((m) => bestRun(m, score) ?? []) : null;
  const runs = kept ? kept.map((k) => k.run) : swept.map((m) => m.runs[0]!.run);
  const base = recipe.summarize(runs);
  const summary = kept
    ? { ...base, tables: [...base.tables, sweepTable(swept, score)], notes: [`Each model is reported at its best learning rate: ${kept.map((k) => `${k.run.name} ${formatLr(k.lr)}`).join(", ")}.`, ...(base.notes ?? [])] }
    : base;
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
      recipe: `${recipe.name}${file.reduced ? " --reduced" : ""}${(["steps", "batch", "lr"] as const).map((k) => (file[k] !== undefined ? ` --${k} ${file[k]}` : "")).join("")}${setup.lrs ? ` (learning rates ${setup.lrs.map(formatLr).join(", ")})` : ""}`,
      ...(file.wallMs !== undefined ? { "training time (all models)": formatDuration(file.wallMs) } : {}),
    },
  });
  return summary;
}
