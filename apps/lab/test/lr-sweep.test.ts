// The learning-rate sweep's pieces: rate names, --lrs parsing, what counts as diverged, which rate is
// kept (higher- and lower-is-better scores, ties, unfinished and diverged runs) and the sweep table.
import { describe, expect, it } from "vitest";
import { OptionError } from "@attnkit/core";
import { bestRun, diverged, finished, formatLr, lateTrainingLoss, parseLrs, sweepRunName, sweepTable, type SweepScore, type SweptModel } from "../src/engine/lr-sweep";
import type { EvalRow, RunRecord, TrainRow } from "../src/run-files";
import { runRecord } from "./lab-helpers";

const STEPS = 10;

/** A run of STEPS steps with the given training losses (logged at steps 1, 2, …) and final accuracy. */
function run(losses: number[], accuracy: number | null): RunRecord {
  const train: TrainRow[] = losses.map((loss, i) => ({ kind: "train", step: i + 1, loss, lr: 1e-3, tokensPerSec: 1, elapsedMs: i }));
  const evals: EvalRow[] = accuracy === null ? [] : [{ kind: "eval", step: STEPS, length: 16, metrics: { accuracy } }];
  return runRecord("m", { train, evals, config: { train: { steps: STEPS, batch: 2, lr: 1e-3, seed: 0, evalEvery: 0, checkpointEvery: 0 } } });
}

const accuracy: SweepScore = { name: "accuracy", better: "higher", of: (r) => r.evals.at(-1)?.metrics.accuracy ?? null };
const tenLosses = (v: number) => Array.from({ length: STEPS }, () => v);

describe("learning-rate sweep", () => {
  it("names rates exactly and briefly", () => {
    expect([1e-3, 3e-3, 0.01, 0.0005, 2.5e-4, 1, 10].map(formatLr)).toEqual(["1e-3", "3e-3", "1e-2", "5e-4", "2.5e-4", "1e0", "1e1"]);
    expect(sweepRunName("still-hybrid", 0.003)).toBe("still-hybrid@3e-3");
  });

  it("parses --lrs and rejects what --lr would reject, empty entries and repeats", () => {
    expect(parseLrs("lrs", "1e-3, 0.003,1e-2")).toEqual([0.001, 0.003, 0.01]);
    for (const [value, message] of [
      ["1e-3,,1e-2", /--lrs must be a comma-separated list of numbers/],
      ["fast", /--lrs must be a comma-separated list of numbers, got 'fast'/],
      ["0", /--lrs/],
      ["-1e-3", /--lrs/],
      ["11", /--lrs/],
      ["0.001,1e-3", /--lrs lists the learning rate 1e-3 twice/],
    ] as const) {
      expect(() => parseLrs("lrs", value)).toThrow(OptionError);
      expect(() => parseLrs("lrs", value)).toThrow(message);
    }
  });

  it("tells finished, diverged and unfinished runs apart", () => {
    const done = run(tenLosses(1), 0.5);
    const blewUp = run([2, 1.5, Number.NaN], null); // JSON writes NaN as null: both read as not finite
    const blewUpFromFile = run([2, null as unknown as number], null);
    const stopped = run([2, 1.5], null);
    expect([finished(done), finished(blewUp), finished(stopped)]).toEqual([true, false, false]);
    expect(diverged(done)).toBeNull();
    expect(diverged(blewUp)).toEqual({ step: 3 });
    expect(diverged(blewUpFromFile)).toEqual({ step: 2 });
    expect(diverged(stopped)).toBeNull();
  });

  it("keeps the best finished rate by the score's direction; ties go to the first rate", () => {
    const swept: SweptModel = {
      model: "softmax",
      runs: [
        { lr: 1e-3, run: run(tenLosses(3), 0.4) },
        { lr: 3e-3, run: run(tenLosses(1), 0.9) },
        { lr: 1e-2, run: run([2, Number.NaN], null) },
        { lr: 3e-2, run: run([2, 1], null) }, // unfinished: never kept
      ],
    };
    expect(bestRun(swept, accuracy)).toMatchObject({ lr: 3e-3, run: { name: "softmax" } });
    const lowerAccuracy: SweepScore = { ...accuracy, better: "lower" };
    expect(bestRun(swept, lowerAccuracy)?.lr).toBe(1e-3);
    expect(bestRun(swept, lateTrainingLoss)?.lr).toBe(3e-3);
    const tie: SweptModel = { model: "t", runs: [{ lr: 1e-3, run: run(tenLosses(1), 0.5) }, { lr: 3e-3, run: run(tenLosses(1), 0.5) }] };
    expect(bestRun(tie, accuracy)?.lr).toBe(1e-3);
    expect(bestRun({ model: "x", runs: [{ lr: 1e-2, run: run([Number.NaN], null) }] }, accuracy)).toBeNull();
  });

  it("scores by the late training loss when a recipe names no score", () => {
    // 20 logged steps: the mean over the last two.
    const r = run([...Array.from({ length: 18 }, () => 9), 2, 4], 0.1);
    expect(lateTrainingLoss.of(r)).toBe(3);
    expect(lateTrainingLoss.of(run([], null))).toBeNull();
  });

  it("tabulates every rate of every model, the diverged step and the rate kept", () => {
    const models: SweptModel[] = [
      { model: "softmax", runs: [{ lr: 1e-3, run: run(tenLosses(1), 0.25) }, { lr: 1e-2, run: run(tenLosses(1), 0.75) }] },
      { model: "still", runs: [{ lr: 1e-3, run: run(tenLosses(1), 0.5) }, { lr: 1e-2, run: run([1, 2, Number.POSITIVE_INFINITY], null) }] },
      { model: "lost", runs: [{ lr: 1e-3, run: run([Number.NaN], null) }, { lr: 1e-2, run: run([1], null) }] },
    ];
    const table = sweepTable(models, accuracy);
    expect(table.columns).toEqual(["model", "lr 1e-3", "lr 1e-2", "kept"]);
    expect(table.rows).toEqual([
      ["softmax", 0.25, 0.75, "1e-2"],
      ["still", 0.5, "diverged at step 3", "1e-3"],
      ["lost", "diverged at step 1", "unfinished", "none finished"],
    ]);
    expect(table.title).toContain("accuracy (higher is better)");
  });
});
