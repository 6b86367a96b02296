// MQAR (Zoology): softmax attention vs linear attention, Lightning, Gated DeltaNet and the STILL and
// NAtS-L hybrids, same size, data, budget and seed. Expected shape: a fixed-size recurrent state recalls
// fewer pairs than attention (linear < softmax); hybrids that keep some exact attention close most of
// the gap (hybrids ≈ softmax).
import { preset, type PresetName, type TextModelSpec } from "@attnkit/models";
import type { ChartSpec, ClaimCheck, ReportTable } from "../report/types";
import type { RunRecord } from "../run-files";
import type { Recipe, RecipeModel, RecipeSetup } from "./recipe";

const MODELS: { name: string; preset: PresetName }[] = [
  { name: "softmax", preset: "dense" },
  { name: "linear", preset: "linear" },
  { name: "lightning", preset: "lightning" },
  { name: "gated-deltanet", preset: "gated-deltanet" },
  { name: "still-hybrid", preset: "still-hybrid" },
  { name: "natsl-hybrid", preset: "natsl-hybrid" },
];
const HYBRIDS = ["still-hybrid", "natsl-hybrid"];
/** "≈ softmax": a hybrid within this much accuracy of softmax; "<": linear below every hybrid by this much. */
const CLOSE = 0.15;
const BELOW = 0.05;
/** Below this softmax accuracy the budget was too small to say anything. */
const LEARNED = 0.3;

interface Size {
  vocabSize: number;
  seqLen: number;
  numKvPairs: number;
  randomNonQueries: boolean;
  trainExamples: number;
  testExamples: number;
  dModel: number;
  heads: number;
  steps: number;
  batch: number;
  lr: number;
  /** Zoology's protocol: every model at each rate, the best reported (the reduced run keeps `lr`). */
  lrs?: number[];
  evalEvery: number;
}

// Zoology's figure-2 data at its smallest: length 64, width 64, one head, zeros between the queries.
// Reduced: the default `pnpm lab` run (minutes on 2 CPU cores); full: 2–6 min per model and rate there, two
// at a time. The full rates are the first three of Zoology's current sweep, logspace(−3, −1.5, 4).
const REDUCED: Size = { vocabSize: 256, seqLen: 64, numKvPairs: 4, randomNonQueries: false, trainExamples: 10_000, testExamples: 256, dModel: 64, heads: 1, steps: 60, batch: 16, lr: 3e-3, evalEvery: 30 };
const FULL: Size = { vocabSize: 512, seqLen: 64, numKvPairs: 8, randomNonQueries: false, trainExamples: 50_000, testExamples: 1_000, dModel: 64, heads: 1, steps: 500, batch: 32, lr: 3e-3, lrs: [1e-3, 3e-3, 1e-2], evalEvery: 100 };

// Zoology's current MQAR sweep: every model is two layers, [BaseConv (kernel 3), mixer], with no position
// embedding. The short convolution hands each token its predecessors, so the mixer's one layer can do
// the recall (without it, a two-layer model must first learn an induction circuit, a long plateau at
// 1/pairs accuracy that 500 steps on a CPU do not get past).
function models(size: Size): RecipeModel[] {
  return MODELS.map(({ name, preset: p }) => {
    const base = preset(p) as TextModelSpec;
    const spec: TextModelSpec = { ...base, name, dModel: size.dModel, heads: size.heads, numLayers: 2, position: "none", layers: [{ attention: { kind: "base-conv" } }, {}] };
    return { name, spec };
  });
}

function accuracyAt(run: RunRecord, length: number): number | null {
  const rows = run.evals.filter((r) => r.length === length && r.step === run.config.train.steps);
  return rows.at(-1)?.metrics.accuracy ?? null;
}

function check(acc: Map<string, number | null>): ClaimCheck {
  const claim = "linear < hybrids ≈ softmax (accuracy at the training length)";
  const softmax = acc.get("softmax");
  const linear = acc.get("linear");
  const hybrids = HYBRIDS.map((h) => acc.get(h)).filter((v): v is number => typeof v === "number");
  const missing = ["softmax", "linear", ...HYBRIDS].filter((m) => typeof acc.get(m) !== "number");
  if (typeof softmax !== "number" || typeof linear !== "number" || missing.length > 0) {
    return { claim, holds: null, detail: `the claim needs evaluated softmax, linear and hybrid runs; missing: ${missing.join(", ")}` };
  }
  const numbers = `softmax ${softmax.toFixed(3)}, linear ${linear.toFixed(3)}, ${HYBRIDS.map((h) => `${h} ${acc.get(h)!.toFixed(3)}`).join(", ")}`;
  if (softmax < LEARNED) return { claim, holds: null, detail: `softmax reached only ${softmax.toFixed(3)} (< ${LEARNED}): the budget is too small to test the claim; ${numbers}` };
  const below = hybrids.every((h) => linear + BELOW < h);
  const close = hybrids.every((h) => Math.abs(h - softmax) <= CLOSE);
  const reasons = [
    below ? `linear is below every hybrid by more than ${BELOW}` : `linear is not below every hybrid by more than ${BELOW}`,
    close ? `every hybrid is within ${CLOSE} of softmax` : `some hybrid is more than ${CLOSE} from softmax`,
  ];
  return { claim, holds: below && close, detail: `${numbers}: ${reasons.join("; ")}` };
}

export const mqarRecipe: Recipe = {
  name: "mqar",
  title: "MQAR: attention vs linear recurrences vs hybrids",
  description:
    "Zoology (Arora et al., ICLR 2024): on multi-query associative recall, models with a fixed-size recurrent state (linear attention, Lightning, Gated DeltaNet) recall fewer pairs than softmax attention of the same width; STILL and NAtS-L hybrids, which keep exact attention on selected tokens, close most of the gap.",
  setup({ reduced }): RecipeSetup {
    const size = reduced ? REDUCED : FULL;
    const { vocabSize, seqLen, numKvPairs, randomNonQueries, trainExamples, testExamples } = size;
    return {
      task: { name: "mqar", options: { vocabSize, seqLen, numKvPairs, randomNonQueries, trainExamples, testExamples } },
      models: models(size),
      // Evaluated at the task's default lengths: T, 2T and 4T with proportionally more pairs.
      train: { steps: size.steps, batch: size.batch, lr: size.lr, seed: 123, evalEvery: size.evalEvery, checkpointEvery: 0 },
      ...(size.lrs ? { lrs: size.lrs } : {}),
    };
  },
  sweepScore: {
    name: "accuracy at the training length",
    better: "higher",
    of: (run) => accuracyAt(run, Number(run.config.task.options.seqLen)),
  },
  summarize(runs) {
    const lengths = [...new Set(runs.flatMap((r) => r.evals.map((e) => e.length).filter((l): l is number => l !== null)))].sort((a, b) => a - b);
    const trainLength = Number(runs[0]?.config.task.options.seqLen);
    const acc = new Map(runs.map((r) => [r.name, accuracyAt(r, trainLength)] as const));
    const table: ReportTable = {
      title: "MQAR accuracy (share of queried keys recalled)",
      columns: ["model", "parameters", ...lengths.map((l) => `acc @ ${l}`), "final loss", "train time (s)"],
      rows: runs.map((r) => [
        r.name,
        r.config.parameters ?? null,
        ...lengths.map((l) => accuracyAt(r, l)),
        r.train.at(-1)?.loss ?? null,
        r.train.length > 0 ? Math.round(r.train.at(-1)!.elapsedMs / 100) / 10 : null,
      ]),
      note: `Trained at length ${trainLength}; longer lengths hold proportionally more pairs (Zoology's grid).`,
    };
    const bars: ChartSpec = {
      title: `Accuracy at the training length (${trainLength})`,
      kind: "bar",
      data: runs.map((r) => ({ model: r.name, accuracy: acc.get(r.name) ?? null })),
      x: "model",
      y: "accuracy",
      xType: "nominal",
      yTitle: "accuracy",
    };
    return { claim: check(acc), tables: [table], charts: [bars] };
  },
};
