// compare: two of the MQAR recipe's models on tiny sizes, trained in child processes (--jobs 2) and
// stopped after one step, then resumed in this process; the comparison's files and report.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { CompareFile } from "../src/commands/compare";
import { COMPARE_FILE, CONFIG_FILE, EVAL_FILE, REPORT_HTML, RUNS_DIR, SUMMARY_MD, type EvalRow, type MetricRow, type RunConfig } from "../src/run-files";
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
});
