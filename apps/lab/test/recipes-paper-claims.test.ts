// The passkey, mnist, moby-dick and collapse recipes: every model of the full and reduced setups is
// valid for its task, and summarize() reaches the right verdict on synthetic runs, both ways.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@attnkit/core";
import { defineModel, type ModelSpec } from "@attnkit/models";
import { collapseRecipe } from "../src/recipes/collapse";
import { mnistRecipe } from "../src/recipes/mnist";
import { mobyDickRecipe } from "../src/recipes/moby-dick";
import { passkeyRecipe } from "../src/recipes/passkey";
import type { Recipe } from "../src/recipes/recipe";
import { INSPECT_FILE, type EvalRow, type RunRecord, type TrainRow } from "../src/run-files";
import { createCollapseTask } from "../src/tasks/collapse";
import { createMnistTask } from "../src/tasks/mnist";
import { createMobyDickTask } from "../src/tasks/moby-dick";
import { createPasskeyTask } from "../src/tasks/passkey";
import type { TaskFactory } from "../src/tasks/task";
import { runRecord } from "./lab-helpers";

const factories: Record<string, TaskFactory> = { passkey: createPasskeyTask, mnist: createMnistTask, "moby-dick": createMobyDickTask, collapse: createCollapseTask };
const recipes: Recipe[] = [passkeyRecipe, mnistRecipe, mobyDickRecipe, collapseRecipe];

function run(name: string, spec: ModelSpec, evals: EvalRow[], train: TrainRow[] = []): RunRecord {
  return runRecord(name, { spec, evals, train, config: { task: { name: "synthetic", options: {} } } });
}
const ev = (step: number, length: number | null, variant: string | undefined, metrics: Record<string, number>): EvalRow => ({ kind: "eval", step, length, ...(variant ? { variant } : {}), metrics });
const specOf = (recipe: Recipe, name: string) => recipe.setup({ reduced: true }).models.find((m) => m.name === name)!.spec;

beforeAll(async () => {
  await initBackend({ prefer: ["wasm", "cpu"], quiet: true });
});

describe.each(recipes)("recipe $name setup", (recipe) => {
  it.each([true, false])("reduced=%s: every model is valid for the task", (reduced) => {
    const setup = recipe.setup({ reduced });
    expect(factories[setup.task.name]).toBeDefined();
    expect(new Set(setup.models.map((m) => m.name)).size).toBe(setup.models.length);
    for (const m of setup.models) {
      const task = factories[setup.task.name]!({ ...setup.task.options, ...m.taskOptions });
      const model = defineModel(task.adaptSpec(m.spec));
      expect(model.countParams()).toBeGreaterThan(0);
      model.dispose();
    }
    expect(setup.train.steps).toBeGreaterThan(0);
    if (reduced) expect(setup.train.steps).toBeLessThanOrEqual(50);
    expect(recipe.description.length).toBeGreaterThan(100);
  });
});

describe("recipe verdicts", () => {
  it("passkey: landmark keeps the key at 16×, dense loses it; not judged when nothing was learned", () => {
    const lengths = [90, 360, 1440];
    const landmark = (acc: number[]) =>
      run("landmark", specOf(passkeyRecipe, "landmark"), lengths.flatMap((l, i) => [1, 2, 4].map((k) => ev(800, l, `topK=${k}`, { accuracy: acc[i]! - 0.01 * (4 - k), digitAccuracy: acc[i]!, hitRate: 0.5 }))));
    const dense = run("dense", specOf(passkeyRecipe, "dense"), lengths.map((l, i) => ev(800, l, undefined, { accuracy: [0.9, 0.1, 0][i]!, digitAccuracy: 0.5 })));
    const good = passkeyRecipe.summarize([landmark([0.95, 0.9, 0.85]), dense]);
    expect(good.claim.holds).toBe(true);
    expect(good.claim.detail).toContain("85% at 1440 (topK=4)");
    expect(good.tables[0]!.rows).toHaveLength(12);
    expect(good.charts[0]!.data).toHaveLength(12);
    expect(good.charts[1]!.data).toHaveLength(9);
    expect(passkeyRecipe.summarize([landmark([0.95, 0.5, 0.2]), dense]).claim.holds).toBe(false);
    expect(passkeyRecipe.summarize([landmark([0.3, 0.1, 0.1]), dense]).claim.holds).toBeNull();
    expect(passkeyRecipe.summarize([dense]).claim.holds).toBeNull();
  });

  it("mnist: BiFormer at least as accurate as ViT; epoch time from the training rows", () => {
    const train: TrainRow[] = [{ kind: "train", step: 100, loss: 0.3, lr: 2e-3, tokensPerSec: 64, elapsedMs: 50_000 }];
    const runs = (bra: number, vit: number) => [
      run("biformer", specOf(mnistRecipe, "biformer"), [ev(250, null, undefined, { accuracy: 0.5, loss: 1 }), ev(500, null, undefined, { accuracy: bra, loss: 0.2 })], train),
      run("vit", specOf(mnistRecipe, "vit"), [ev(500, null, undefined, { accuracy: vit, loss: 0.2 })], train),
    ];
    const good = mnistRecipe.summarize(runs(0.97, 0.96));
    expect(good.claim.holds).toBe(true);
    // 0.5 s per step × 8,000 digits / batch 32.
    expect(good.tables[0]!.rows[0]).toEqual(["biformer", 0.97, expect.any(Number), 125]);
    expect(good.charts).toHaveLength(2);
    expect(mnistRecipe.summarize(runs(0.9, 0.96)).claim.holds).toBe(false);
    expect(mnistRecipe.summarize(runs(0.12, 0.1)).claim.holds).toBeNull();
  });

  it("mnist: the runs' routed-region heatmaps join the comparison", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "lab-recipe-"));
    try {
      const heatmap = { title: "Routed regions", kind: "heatmap", data: [{ column: 0, row: 0, share: 1 }], x: "column", y: "row", value: "share" };
      await writeFile(path.join(dir, INSPECT_FILE), JSON.stringify({ charts: [heatmap], tables: [{ title: "where queries route", columns: ["layer"], rows: [["a"]] }] }));
      const bra = { ...run("biformer", specOf(mnistRecipe, "biformer"), [ev(500, null, undefined, { accuracy: 0.9 })]), dir };
      const summary = mnistRecipe.summarize([bra, run("vit", specOf(mnistRecipe, "vit"), [ev(500, null, undefined, { accuracy: 0.9 })])]);
      expect(summary.charts.map((c) => c.title)).toContain("Routed regions");
      expect(summary.tables.map((t) => t.title)).toContain("where queries route");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("moby-dick: the similarity router scores token pairs at τ = √dModel (at τ = 1 its mix is the identity)", () => {
    for (const reduced of [true, false]) {
      const ffnOf = (name: string) => {
        const spec = mobyDickRecipe.setup({ reduced }).models.find((m) => m.name === name)!.spec;
        return spec.family === "vision" ? undefined : spec.ffn;
      };
      expect(ffnOf("moe-similarity")).toMatchObject({ kind: "moe", router: "similarity", temperature: 8 });
      for (const other of ["moe-softmax", "moe-attention"]) expect(ffnOf(other)).not.toHaveProperty("temperature");
    }
  });

  it("moby-dick: graph routers fluctuate less late in training at no loss cost", () => {
    const moe = (name: string, fluctuation: number, loss: number) =>
      run(name, specOf(mobyDickRecipe, name), [
        ev(50, null, undefined, { loss: 3, routingEntropy: 1, balanceLoss: 1.1, loadMax: 1.3 }),
        ...[100, 150, 200].map((s) => ev(s, null, undefined, { loss, routingEntropy: 1, balanceLoss: 1.1, loadMax: 1.3, fluctuationTop1: s === 100 ? 0.9 : fluctuation, fluctuationSet: fluctuation })),
      ]);
    const dense = run("dense", specOf(mobyDickRecipe, "dense"), [ev(200, null, undefined, { loss: 2, bitsPerChar: 2.9 })]);
    const good = mobyDickRecipe.summarize([dense, moe("moe-softmax", 0.2, 2), moe("moe-similarity", 0.1, 2.01), moe("moe-attention", 0.05, 1.99)]);
    expect(good.claim.holds).toBe(true);
    expect(good.claim.detail).toContain("softmax 20.0%");
    expect(good.tables[0]!.rows[0]).toEqual(["dense", 2, 2.9, null, null, null]);
    expect(good.charts[1]!.data).toHaveLength(9);
    expect(mobyDickRecipe.summarize([moe("moe-softmax", 0.2, 2), moe("moe-similarity", 0.1, 2), moe("moe-attention", 0.3, 2)]).claim.holds).toBe(false);
    expect(mobyDickRecipe.summarize([moe("moe-softmax", 0.2, 2), moe("moe-similarity", 0.1, 2.5), moe("moe-attention", 0.1, 2)]).claim.holds).toBe(false);
    expect(mobyDickRecipe.summarize([dense]).claim.holds).toBeNull();
  });

  it("collapse: cosine rises with length and τ < 1 raises σ_a and lowers the cosine", () => {
    const rows = (sharpCosine: number) => [
      ev(300, 32, "tau=1", { cosine: 0.9, sigmaA: 0.3, dcEnergy: 0.9 }),
      ev(300, 256, "tau=1", { cosine: 0.99, sigmaA: 0.2, dcEnergy: 0.95 }),
      ev(300, 32, "tau=0.8", { cosine: 0.85, sigmaA: 0.4, dcEnergy: 0.85 }),
      ev(300, 256, "tau=0.8", { cosine: sharpCosine, sigmaA: 0.35, dcEnergy: 0.9 }),
    ];
    const spec = specOf(collapseRecipe, "encoder");
    // Batch 32 (the synthetic runs'): chance is ln 63 ≈ 4.14; from 3.5 down to 1 is a trained encoder.
    const losses = (loss: number): TrainRow[] => Array.from({ length: 10 }, (_, i) => ({ kind: "train", step: 30 * (i + 1), loss, lr: 1e-3, tokensPerSec: 1, elapsedMs: i }));
    const trained = losses(1).map((r, i) => (i === 0 ? { ...r, loss: 3.5 } : r));
    const good = collapseRecipe.summarize([run("encoder", spec, rows(0.95), trained)]);
    expect(good.claim.holds).toBe(true);
    expect(good.tables[0]!.rows[0]).toEqual([1, 32, 0.9, 0.3, 0.9]);
    expect(good.charts).toHaveLength(3);
    expect(collapseRecipe.summarize([run("encoder", spec, rows(0.995), trained)]).claim.holds).toBe(false);
    expect(collapseRecipe.summarize([run("encoder", spec, rows(0.95).slice(0, 1), trained)]).claim.holds).toBeNull();
    // The same metrics from an encoder at chance on its contrastive task (or with no loss recorded) judge nothing.
    const untrained = collapseRecipe.summarize([run("encoder", spec, rows(0.95), losses(4.1))]).claim;
    expect(untrained.holds).toBeNull();
    expect(untrained.detail).toMatch(/^the encoder has not learned its contrastive task \(late training loss 4\.100, first 4\.100, chance ln\(2·32 − 1\) = 4\.143\); τ = 1: cosine 0\.9000/);
    // Below chance but no better than where it started (2.0 → 1.9): not learned either.
    const flat = [...losses(2), ...losses(1.9)].map((r, i) => ({ ...r, step: i + 1 }));
    expect(collapseRecipe.summarize([run("encoder", spec, rows(0.95), flat)]).claim.holds).toBeNull();
    expect(collapseRecipe.summarize([run("encoder", spec, rows(0.95))]).claim.detail).toContain("no training loss recorded");
  });
});
