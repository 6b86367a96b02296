// train → eval → report through the CLI's main, on tiny sizes: the run directory's files and their numbers.
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatNumber } from "../src/report/format";
import { CHECKPOINT_DIR, CONFIG_FILE, EVAL_FILE, METRICS_FILE, REPORT_HTML, SUMMARY_MD, type EvalRow, type MetricRow, type RunConfig } from "../src/run-files";
import { TINY_SPEC, cli, tempDir, tinySpecFile, trainArgs } from "./lab-helpers";

const read = async (file: string) => readFile(file, "utf8");
const rows = async (dir: string) => (await read(path.join(dir, METRICS_FILE))).trim().split("\n").map((l) => JSON.parse(l) as MetricRow);

describe("attnkit-lab train / eval / report", () => {
  it("trains, evaluates and reports a run", async () => {
    const root = await tempDir();
    const spec = await tinySpecFile(root);
    const dir = path.join(root, "run");
    const r = await cli(...trainArgs(spec, dir, "--steps", "6", "--eval-every", "3"));
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    for (const f of [CONFIG_FILE, METRICS_FILE, EVAL_FILE, REPORT_HTML, SUMMARY_MD, path.join(CHECKPOINT_DIR, "state.json")]) expect(existsSync(path.join(dir, f)), f).toBe(true);

    const config = JSON.parse(await read(path.join(dir, CONFIG_FILE))) as RunConfig;
    expect(config.backend.name).toBe("cpu");
    expect(config.spec).toMatchObject({ vocabSize: 64, dModel: 16, seed: 3 });
    expect(config.task).toMatchObject({ name: "mqar", options: { seqLen: 16, numKvPairs: 2 } });
    expect(config.parameters).toBeGreaterThan(0);
    expect(config.versions["@tensorflow/tfjs"]).toBe("4.22.0");

    const metrics = await rows(dir);
    const train = metrics.filter((m) => m.kind === "train");
    expect(train.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const t of train) expect(Number.isFinite(t.loss) && t.loss > 0).toBe(true);
    // Cosine decay after the (one-step) warm-up: the peak first, lower rates after.
    expect(train[0]!.lr).toBe(0.01);
    expect(train.at(-1)!.lr).toBeLessThan(train[2]!.lr);
    const quick = metrics.filter((m): m is EvalRow => m.kind === "eval" && m.step === 3);
    expect(quick.map((q) => q.length)).toEqual([16]);

    const evals = JSON.parse(await read(path.join(dir, EVAL_FILE))) as EvalRow[];
    expect(evals.map((e) => e.length)).toEqual([16, 32]);
    for (const e of evals) {
      expect(e.step).toBe(6);
      expect(e.metrics.accuracy).toBeGreaterThanOrEqual(0);
      expect(e.metrics.accuracy).toBeLessThanOrEqual(1);
    }
    // The printed table and the report hold the final numbers.
    expect(r.out).toContain(evals[0]!.metrics.loss!.toFixed(3));
    const summary = await read(path.join(dir, SUMMARY_MD));
    expect(summary).toContain(formatNumber(evals[0]!.metrics.loss!));
    const html = await read(path.join(dir, REPORT_HTML));
    expect(html).toContain("<svg");

    // eval at other lengths replaces those rows of eval.json and adds rows to metrics.jsonl.
    const e = await cli("eval", "--run", dir, "--lengths", "16,48");
    expect(e.err).toBe("");
    expect(e.code).toBe(0);
    const after = JSON.parse(await read(path.join(dir, EVAL_FILE))) as EvalRow[];
    expect(after.map((x) => x.length).sort((a, b) => a! - b!)).toEqual([16, 32, 48]);
    // Same checkpoint, same test set: re-evaluating length 16 gives the same numbers.
    expect(after.find((x) => x.length === 16)!.metrics).toEqual(evals[0]!.metrics);
    expect((await rows(dir)).filter((m) => m.kind === "eval" && m.length === 48)).toHaveLength(1);

    // report re-renders from the files alone.
    await rm(path.join(dir, REPORT_HTML));
    await rm(path.join(dir, SUMMARY_MD));
    const rep = await cli("report", "--run", dir);
    expect(rep.code).toBe(0);
    expect(rep.out).toContain(path.join(dir, REPORT_HTML));
    expect(await read(path.join(dir, SUMMARY_MD))).toContain(formatNumber(after.find((x) => x.length === 48)!.metrics.loss!));
  });

  it("stops a run whose loss becomes NaN or infinite with one line and exit code 3", async () => {
    const dir = path.join(await tempDir(), "diverged");
    // A softmax temperature of 1e-39 turns every attention score into ±inf: the loss is NaN at once.
    const spec = await tinySpecFile(path.dirname(dir), { ...TINY_SPEC, attention: { kind: "tempscale", temperatureMode: "fixed", temperature: 1e-39 } });
    const r = await cli(...trainArgs(spec, dir, "--steps", "50"));
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^attnkit-lab: tiny: the training loss became (NaN|Infinity|-Infinity) at step \d+; training stopped there .* Try a lower --lr\n$/);
    const logged = await rows(dir);
    const last = logged.filter((m) => m.kind === "train").at(-1)!;
    expect(Number.isFinite(last.loss ?? NaN)).toBe(false);
    expect(last.step).toBeLessThan(50); // it did not train on to the end
    expect(existsSync(path.join(dir, EVAL_FILE))).toBe(false);
  });
});
