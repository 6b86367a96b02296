// compare: two of the MQAR recipe's models on tiny sizes, trained in child processes (--jobs 2) and
// stopped after one step, then resumed in this process; the comparison's files and report.
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { CompareFile } from "../src/commands/compare";
import { CHECKPOINT_DIR, COMPARE_FILE, CONFIG_FILE, EVAL_FILE, METRICS_FILE, REPORT_HTML, RUNS_DIR, SUMMARY_MD, type EvalRow, type MetricRow, type RunConfig } from "../src/run-files";
import { textCell } from "../src/engine/text-table";
import { cli, tempDir, TINY_TASK } from "./lab-helpers";

describe("attnkit-lab compare", () => {
  it("trains the recipe's models, resumes after an interruption and reports", async () => {
    const out = path.join(await tempDir(), "cmp");
    const args = ["--recipe", "mqar", "--reduced", "--steps", "3", "--batch", "3", "--lr", "0.002", "--models", "softmax,linear", "--task-options", TINY_TASK, "--backend", "cpu", "--out", out];
    const first = await cli("compare", ...args, "--jobs", "2", "--stop-after", "1");
    expect(first.code).toBe(130);
    expect(first.out).toContain("[softmax]");
    expect(first.out).toContain(`attnkit-lab resume --run ${out}`);
    const file = JSON.parse(await readFile(path.join(out, COMPARE_FILE), "utf8")) as CompareFile;
    expect(file).toMatchObject({ recipe: "mqar", reduced: true, steps: 3, batch: 3, lr: 0.002, models: ["softmax", "linear"] });
    expect(file.finishedAt).toBeUndefined();

    const resumed = await cli("resume", "--run", out, "--jobs", "1");
    expect(resumed.err).toBe("");
    expect(resumed.code).toBe(0);
    for (const model of ["softmax", "linear"]) {
      const dir = path.join(out, RUNS_DIR, model);
      const rows = (await readFile(path.join(dir, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as MetricRow);
      expect(rows.filter((r) => r.kind === "train").map((r) => r.step)).toEqual([1, 2, 3]);
      // The --batch and --lr overrides reach every run.
      const config = JSON.parse(await readFile(path.join(dir, CONFIG_FILE), "utf8")) as RunConfig;
      expect(config.train).toMatchObject({ steps: 3, batch: 3, lr: 0.002 });
      const evals = JSON.parse(await readFile(path.join(dir, EVAL_FILE), "utf8")) as EvalRow[];
      // The printed results table holds each model's accuracy at the training length.
      expect(resumed.out).toMatch(new RegExp(`${model}\\s+\\d+\\s+${textCell(evals[0]!.metrics.accuracy!)}\\s`));
    }
    expect(resumed.out).toContain("claim: linear < hybrids ≈ softmax");
    expect(resumed.out).toContain("inconclusive");
    expect(existsSync(path.join(out, REPORT_HTML))).toBe(true);
    const summary = await readFile(path.join(out, SUMMARY_MD), "utf8");
    expect(summary).toContain("softmax");
    expect(summary).toContain("linear");
    const done = JSON.parse(await readFile(path.join(out, COMPARE_FILE), "utf8")) as CompareFile;
    expect(done.finishedAt).toBeDefined();
  });

  // A run whose attention scores are all ±inf (temperature 1e-39): its loss is NaN at the first step.
  async function makeDiverge(dir: string): Promise<void> {
    const file = path.join(dir, CONFIG_FILE);
    const config = JSON.parse(await readFile(file, "utf8")) as RunConfig;
    const spec = { ...config.spec, attention: { kind: "tempscale", temperatureMode: "fixed", temperature: 1e-39 } } as unknown as RunConfig["spec"];
    await writeFile(file, JSON.stringify({ ...config, spec }));
    await rm(path.join(dir, CHECKPOINT_DIR), { recursive: true, force: true });
    await writeFile(path.join(dir, METRICS_FILE), "");
  }

  const sweepArgs = (out: string, lrs: string, models: string) => ["--recipe", "mqar", "--reduced", "--steps", "3", "--batch", "3", "--lrs", lrs, "--models", models, "--task-options", TINY_TASK, "--backend", "cpu", "--out", out];

  it("sweeps learning rates: a run per model and rate, each model reported at its best, a diverged rate kept as an outcome", async () => {
    const out = path.join(await tempDir(), "sweep");
    const first = await cli("compare", ...sweepArgs(out, "0.002,0.02", "softmax,linear"), "--jobs", "2", "--stop-after", "1");
    expect(first.code).toBe(130);
    expect((JSON.parse(await readFile(path.join(out, COMPARE_FILE), "utf8")) as CompareFile).lrs).toEqual([0.002, 0.02]);
    const names = ["softmax@2e-3", "softmax@2e-2", "linear@2e-3", "linear@2e-2"];
    for (const name of names) {
      const config = JSON.parse(await readFile(path.join(out, RUNS_DIR, name, CONFIG_FILE), "utf8")) as RunConfig;
      expect(config.name).toBe(name);
      expect(config.train.lr).toBe(name.endsWith("2e-3") ? 0.002 : 0.02);
    }
    await makeDiverge(path.join(out, RUNS_DIR, "linear@2e-2"));

    const resumed = await cli("resume", "--run", out, "--jobs", "2");
    expect(resumed.err).toBe("");
    expect(resumed.code).toBe(0);
    expect(resumed.out).toMatch(/\[linear@2e-2\] attnkit-lab: linear@2e-2: the training loss became NaN at step 1/);
    expect(existsSync(path.join(out, RUNS_DIR, "linear@2e-2", EVAL_FILE))).toBe(false);
    const accuracy = async (name: string) => (JSON.parse(await readFile(path.join(out, RUNS_DIR, name, EVAL_FILE), "utf8")) as EvalRow[])[0]!.metrics.accuracy!;
    const [s2, s20, l2] = [await accuracy("softmax@2e-3"), await accuracy("softmax@2e-2"), await accuracy("linear@2e-3")];
    const softmaxKept = s20 > s2 ? "2e-2" : "2e-3";
    // The sweep table: each rate's accuracy, the diverged one, and the rate kept.
    expect(resumed.out).toMatch(new RegExp(`softmax\\s+${textCell(s2)}\\s+${textCell(s20)}\\s+${softmaxKept}`));
    expect(resumed.out).toMatch(new RegExp(`linear\\s+${textCell(l2)}\\s+diverged at step 1\\s+2e-3`));
    // The recipe's table and claim use each model's best run.
    expect(resumed.out).toMatch(new RegExp(`softmax\\s+\\d+\\s+${textCell(Math.max(s2, s20))}\\s`));
    expect(resumed.out).toMatch(new RegExp(`linear\\s+\\d+\\s+${textCell(l2)}\\s`));
    const summary = await readFile(path.join(out, SUMMARY_MD), "utf8");
    expect(summary).toContain("Learning-rate sweep");
    expect(summary).toContain(`softmax ${softmaxKept}, linear 2e-3`);

    // Resuming again trains nothing: the diverged run stays an outcome.
    const again = await cli("resume", "--run", out, "--jobs", "2");
    expect(again.code).toBe(0);
    expect(again.out).not.toMatch(/^training \d+ runs|\[linear@2e-2\]|resuming/m);
    expect(existsSync(path.join(out, RUNS_DIR, "linear@2e-2", CHECKPOINT_DIR))).toBe(false);
  });

  it("exits 3 naming the model when every rate of a model diverged", async () => {
    const out = path.join(await tempDir(), "lost");
    expect((await cli("compare", ...sweepArgs(out, "0.002,0.02", "softmax"), "--jobs", "1", "--stop-after", "1")).code).toBe(130);
    for (const name of ["softmax@2e-3", "softmax@2e-2"]) await makeDiverge(path.join(out, RUNS_DIR, name));
    const r = await cli("resume", "--run", out, "--jobs", "1");
    expect(r.code).toBe(3);
    expect(r.out).toContain("softmax@2e-3: the training loss became NaN at step 1");
    expect(r.err).toMatch(/^attnkit-lab: the training loss of softmax became NaN or infinite at every learning rate of the sweep .* Try a lower --lr\n$/);
    expect(existsSync(path.join(out, REPORT_HTML))).toBe(false);
  });
});
