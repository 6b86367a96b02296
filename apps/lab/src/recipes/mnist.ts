// BiFormer's claim at small scale: bi-level routing attention (each region attends only to its top-k
// routed regions, plus local context enhancement) classifies as well as a plain ViT of similar size,
// here on the real MNIST digits; the report adds time per epoch and the routed-region heatmaps.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defineModel, preset } from "@attnkit/models";
import { finalEvals } from "../report/evals";
import type { ChartSpec, ClaimCheck, ReportTable } from "../report/types";
import { INSPECT_FILE, type RunRecord } from "../run-files";
import { MNIST_TRAIN_SIZE } from "../tasks/mnist";
import type { TaskInspection } from "../tasks/task";
import type { Recipe, RecipeSetup } from "./recipe";

interface Row {
  name: string;
  accuracy: number | null;
  params: number;
  epochSeconds: number | null;
}

/** Seconds per pass over the training images, from the logged training rows. */
function epochSeconds(run: RunRecord): number | null {
  const last = run.train[run.train.length - 1];
  if (!last || last.step === 0) return null;
  return ((last.elapsedMs / last.step) * (MNIST_TRAIN_SIZE / run.config.train.batch)) / 1000;
}

function rowOf(run: RunRecord): Row {
  const model = defineModel(run.config.spec);
  const params = model.countParams();
  model.dispose();
  return { name: run.name, accuracy: finalEvals(run)[0]?.metrics.accuracy ?? null, params, epochSeconds: epochSeconds(run) };
}

function checkClaim(bra: Row | undefined, vit: Row | undefined): ClaimCheck {
  const claim = "A BiFormer-style model (bi-level routing attention) reaches at least the test accuracy of a plain ViT of similar size.";
  if (!bra || !vit || bra.accuracy === null || vit.accuracy === null) return { claim, holds: null, detail: "the recipe needs final test accuracies of both the biformer and the vit run" };
  const numbers = `BiFormer ${(100 * bra.accuracy).toFixed(1)}% (${bra.params} parameters), ViT ${(100 * vit.accuracy).toFixed(1)}% (${vit.params} parameters)`;
  if (Math.max(bra.accuracy, vit.accuracy) < 0.5) return { claim, holds: null, detail: `not judged: neither model learned the digits (${numbers})` };
  return { claim, holds: bra.accuracy >= vit.accuracy - 0.005, detail: `${numbers}; holds when BiFormer is within 0.5 points of ViT or better` };
}

export const mnistRecipe: Recipe = {
  name: "mnist",
  title: "Bi-level routing attention vs a plain ViT on MNIST",
  description:
    "BiFormer (Zhu et al., CVPR 2023): preset biformer-tiny (2×2 patches, 14×14 tokens in a 7×7 region grid, top-4 then top-16 routed regions, LCE) " +
    "vs preset vit-tiny (4×4 patches, 4 softmax blocks) trained with the same budget, batch and seed on the 8,000 training digits of the mnist package; " +
    "test accuracy on the 2,000 held-out digits, time per epoch, and which regions the routing layers pick.",
  setup({ reduced }): RecipeSetup {
    return {
      task: { name: "mnist", options: reduced ? { testImages: 200, inspectImages: 32 } : {} },
      models: [
        { name: "biformer", spec: preset("biformer-tiny", { seed: 1 }) },
        { name: "vit", spec: preset("vit-tiny", { seed: 1 }) },
      ],
      train: reduced
        ? { steps: 20, batch: 16, lr: 2e-3, seed: 0, evalEvery: 0, checkpointEvery: 0 }
        : { steps: 1500, batch: 32, lr: 2e-3, seed: 0, evalEvery: 250, checkpointEvery: 250 },
    };
  },
  summarize(runs: RunRecord[]) {
    const rows = runs.map(rowOf);
    const table: ReportTable = {
      title: "MNIST test accuracy and cost",
      columns: ["model", "test accuracy", "parameters", "seconds per epoch"],
      rows: rows.map((r) => [r.name, r.accuracy, r.params, r.epochSeconds]),
      note: `Seconds per epoch: the run's mean training step time × ${MNIST_TRAIN_SIZE} / batch.`,
    };
    const charts: ChartSpec[] = [
      { title: "MNIST test accuracy", kind: "bar", data: rows.map((r) => ({ model: r.name, accuracy: r.accuracy })), x: "model", y: "accuracy", xType: "nominal" },
      { title: "Training time per epoch", kind: "bar", data: rows.map((r) => ({ model: r.name, seconds: r.epochSeconds })), x: "model", y: "seconds", xType: "nominal", yTitle: "seconds per epoch" },
    ];
    // The routed-region heatmaps each run's inspect() left in its directory.
    const inspections = runs.map((r) => join(r.dir, INSPECT_FILE)).filter((f) => existsSync(f)).map((f) => JSON.parse(readFileSync(f, "utf8")) as TaskInspection);
    return {
      claim: checkClaim(rows.find((r) => r.name === "biformer"), rows.find((r) => r.name === "vit")),
      tables: [table, ...inspections.flatMap((i) => i.tables ?? [])],
      charts: [...charts, ...inspections.flatMap((i) => i.charts ?? [])],
    };
  },
};
