// The MQAR recipe: its models and budgets, and the claim check on given numbers.
import { describe, expect, it } from "vitest";
import { mqarRecipe } from "../src/recipes/mqar";
import type { RunRecord } from "../src/run-files";

const MODELS = ["softmax", "linear", "lightning", "gated-deltanet", "still-hybrid", "natsl-hybrid"];

function run(name: string, accuracy: number): RunRecord {
  const setup = mqarRecipe.setup({ reduced: true });
  return {
    name,
    dir: `/runs/${name}`,
    config: { version: 1, name, createdAt: "", spec: setup.models[0]!.spec, task: setup.task, train: setup.train, backend: { name: "cpu" }, versions: {}, parameters: 1000 },
    train: [{ kind: "train", step: setup.train.steps, loss: 1, lr: 1e-3, tokensPerSec: 1, elapsedMs: 2000 }],
    evals: [64, 128].map((length) => ({ kind: "eval" as const, step: setup.train.steps, length, metrics: { accuracy: length === 64 ? accuracy : accuracy / 2, loss: 1 } })),
  };
}

describe("mqar recipe", () => {
  it("trains the six models alike", () => {
    for (const reduced of [true, false]) {
      const setup = mqarRecipe.setup({ reduced });
      expect(setup.models.map((m) => m.name)).toEqual(MODELS);
      const sizes = setup.models.map((m) => JSON.stringify({ d: m.spec.family === "decoder" && m.spec.dModel, layers: m.spec.family === "decoder" && m.spec.numLayers }));
      expect(new Set(sizes).size).toBe(1);
      expect(setup.task.name).toBe("mqar");
      // Zoology's [BaseConv, mixer] pair, no position embedding; the mixer is the model's own kind.
      for (const { name, spec } of setup.models) {
        if (spec.family !== "decoder") throw new Error("mqar models are decoders");
        expect(spec.position).toBe("none");
        expect(spec.layers?.[0]?.attention).toEqual({ kind: "base-conv" });
        expect(spec.layers?.[1]?.attention).toBeUndefined();
        expect(spec.attention?.kind ?? "softmax").toBe(name); // each model is named after its mixer
      }
    }
    expect(mqarRecipe.setup({ reduced: true }).train.steps).toBeLessThan(mqarRecipe.setup({ reduced: false }).train.steps);
  });

  it("sweeps the learning rate in the full recipe only, keeping the best accuracy at the training length", () => {
    expect(mqarRecipe.setup({ reduced: true }).lrs).toBeUndefined();
    expect(mqarRecipe.setup({ reduced: false }).lrs).toEqual([1e-3, 3e-3, 1e-2]);
    expect(mqarRecipe.sweepScore).toMatchObject({ better: "higher" });
    // The reduced task trains at length 64: the score is the accuracy there, not at 128.
    expect(mqarRecipe.sweepScore!.of(run("softmax", 0.75))).toBe(0.75);
  });

  it("checks linear < hybrids ≈ softmax on the numbers", () => {
    const accs = (values: number[]) => MODELS.map((m, i) => run(m, values[i]!));
    const holds = mqarRecipe.summarize(accs([0.95, 0.4, 0.5, 0.7, 0.9, 0.88]));
    expect(holds.claim.holds).toBe(true);
    expect(holds.claim.detail).toContain("softmax 0.950");
    expect(mqarRecipe.summarize(accs([0.95, 0.9, 0.5, 0.7, 0.9, 0.88])).claim.holds).toBe(false);
    expect(mqarRecipe.summarize(accs([0.95, 0.4, 0.5, 0.7, 0.5, 0.88])).claim.holds).toBe(false);
    expect(mqarRecipe.summarize(accs([0.1, 0.05, 0.05, 0.05, 0.1, 0.1])).claim.holds).toBeNull();
    expect(mqarRecipe.summarize(accs([0.95, 0.4, 0.5, 0.7, 0.9, 0.88]).slice(0, 2)).claim.detail).toContain("missing: still-hybrid, natsl-hybrid");
  });

  it("tabulates accuracy per length and charts accuracy per model", () => {
    const summary = mqarRecipe.summarize(MODELS.map((m, i) => run(m, 0.1 * (i + 1))));
    const table = summary.tables[0]!;
    expect(table.columns).toEqual(["model", "parameters", "acc @ 64", "acc @ 128", "final loss", "train time (s)"]);
    expect(table.rows[1]).toEqual(["linear", 1000, 0.2, 0.1, 1, 2]);
    expect(summary.charts[0]!.data).toContainEqual({ model: "natsl-hybrid", accuracy: 0.6000000000000001 });
  });
});
