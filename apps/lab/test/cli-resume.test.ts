// Exact resume on cpu: a run stopped after some steps (as Ctrl-C does) and resumed logs the same rows
// (steps, losses, rates, evaluations) as the same run uninterrupted, with no step missing or repeated.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EVAL_FILE, METRICS_FILE, type MetricRow } from "../src/run-files";
import { cli, tempDir, tinySpecFile, trainArgs } from "./lab-helpers";

async function comparable(dir: string): Promise<MetricRow[]> {
  const rows = (await readFile(path.join(dir, METRICS_FILE), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as MetricRow);
  // Wall-clock fields differ between any two runs; everything computed must not.
  return rows.map((r) => (r.kind === "train" ? ({ kind: r.kind, step: r.step, loss: r.loss, lr: r.lr } as MetricRow) : r));
}

describe("attnkit-lab resume", () => {
  it("continues an interrupted run exactly (cpu)", async () => {
    const root = await tempDir();
    const spec = await tinySpecFile(root);
    const common = ["--steps", "9", "--eval-every", "4", "--checkpoint-every", "2"];
    const whole = await cli(...trainArgs(spec, path.join(root, "whole"), ...common));
    expect(whole.code).toBe(0);

    const cut = path.join(root, "cut");
    // Stopped after step 5: between checkpoints (4 and 6) and after a quick evaluation (4).
    const first = await cli(...trainArgs(spec, cut, ...common, "--stop-after", "5"));
    expect(first.code).toBe(130);
    expect(first.out).toContain(`attnkit-lab resume --run ${cut}`);
    const resumed = await cli("resume", "--run", cut);
    expect(resumed.err).toBe("");
    expect(resumed.code).toBe(0);

    const a = await comparable(path.join(root, "whole"));
    const b = await comparable(cut);
    expect(b).toEqual(a);
    expect(b.filter((r) => r.kind === "train").map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await readFile(path.join(cut, EVAL_FILE), "utf8")).toBe(await readFile(path.join(root, "whole", EVAL_FILE), "utf8"));

    // A finished run resumes to nothing new.
    const again = await cli("resume", "--run", cut);
    expect(again.code).toBe(0);
    expect(await comparable(cut)).toEqual(a);
  });
});
