// Attention-aware MoE routing (Nguyen et al. 2025) at small scale: routers that look at other tokens
// (similarity-aware, attention-aware) fluctuate less between late checkpoints than the plain softmax
// router, at no cost in validation loss; dense and block-routing (MoBA) decoders are the references.
import { preset, type TextModelSpec } from "@attnkit/models";
import { finalEvals } from "../report/evals";
import type { ChartSpec, ClaimCheck, ReportTable } from "../report/types";
import type { RunRecord } from "../run-files";
import type { Recipe, RecipeSetup } from "./recipe";

const MOE = { kind: "moe", hiddenUnits: 128, numExperts: 4, topK: 2 } as const;
const ROUTERS = { "moe-softmax": "softmax", "moe-similarity": "similarity", "moe-attention": "attention" } as const;
// The similarity router scores token pairs by x_i·x_j / τ on the RMS-normed MoE input (‖x‖² ≈ dModel).
// At the layer's default τ = 1 a token's own score beats a neighbour's by ≈ dModel·(1 − cos), so the mix is
// the identity and the router is the softmax router again; τ = √dModel scales the scores as attention's
// are (the paper leaves τ open: research/landmark-tempscale-moe.md §3.3).
const SIMILARITY_TEMPERATURE = Math.sqrt((preset("dense") as TextModelSpec).dModel);

/** Mean routing fluctuation (top-1) over the later half of a run's evaluations that have one. */
function lateFluctuation(run: RunRecord): number | null {
  const rows = run.evals.filter((e) => e.metrics.fluctuationTop1 !== undefined).sort((a, b) => a.step - b.step);
  const late = rows.slice(Math.floor(rows.length / 2));
  return late.length === 0 ? null : late.reduce((s, e) => s + e.metrics.fluctuationTop1!, 0) / late.length;
}

function checkClaim(runs: RunRecord[]): ClaimCheck {
  const claim = "Similarity-aware and attention-aware routers fluctuate less between late checkpoints than the softmax router, with no worse validation loss.";
  const get = (name: string) => runs.find((r) => r.name === name);
  const [soft, sim, att] = [get("moe-softmax"), get("moe-similarity"), get("moe-attention")];
  if (!soft || !sim || !att) return { claim, holds: null, detail: "the recipe needs the moe-softmax, moe-similarity and moe-attention runs" };
  const fl = [soft, sim, att].map(lateFluctuation);
  const loss = [soft, sim, att].map((r) => finalEvals(r)[0]?.metrics.loss ?? null);
  if (fl.some((f) => f === null) || loss.some((l) => l === null)) return { claim, holds: null, detail: "not judged: a MoE run has no routing fluctuation (needs at least two evaluations with a run directory) or no validation loss" };
  const [fs, fsim, fatt] = fl as number[];
  const [ls, lsim, latt] = loss as number[];
  const detail =
    `late top-1 fluctuation: softmax ${(100 * fs!).toFixed(1)}%, similarity ${(100 * fsim!).toFixed(1)}%, attention ${(100 * fatt!).toFixed(1)}%; ` +
    `validation loss ${ls!.toFixed(3)}, ${lsim!.toFixed(3)}, ${latt!.toFixed(3)} (holds when both graph routers fluctuate less and lose ≤ 0.02 nats)`;
  const holds = fsim! < fs! && fatt! < fs! && lsim! <= ls! + 0.02 && latt! <= ls! + 0.02;
  return { claim, holds, detail };
}

export const mobyDickRecipe: Recipe = {
  name: "moby-dick",
  title: "Char-level Moby-Dick: dense vs block routing vs MoE routers",
  description:
    "Attention-aware SMoE (Nguyen, Tran, Nguyen, Baraniuk 2025): 2-layer char-level decoders on Moby-Dick (whole chapters held out) with a dense FFN, " +
    "MoBA block-routing attention, and 4-expert top-2 MoE FFNs routed by softmax, similarity-aware and attention-aware gates; same budget and seed. " +
    "Validation loss, expert load and routing entropy, and routing fluctuation (share of tokens of a fixed validation batch whose top-1 expert changed) " +
    "between consecutive evaluations; the claim compares the later half of them.",
  setup({ reduced }): RecipeSetup {
    const small = { numLayers: 2, seed: 1 };
    return {
      task: { name: "moby-dick", options: reduced ? { validationWindows: 16 } : {} },
      models: [
        { name: "dense", spec: preset("dense", small) },
        { name: "block-routing", spec: preset("block-routing", small) },
        ...Object.entries(ROUTERS).map(([name, router]) => ({
          name,
          spec: preset("dense", { ...small, name, ffn: { ...MOE, router, ...(router === "similarity" ? { temperature: SIMILARITY_TEMPERATURE } : {}) } }),
        })),
      ],
      train: reduced
        ? { steps: 20, batch: 8, lr: 3e-3, seed: 0, evalEvery: 10, checkpointEvery: 0 }
        : { steps: 500, batch: 16, lr: 3e-3, seed: 0, evalEvery: 50, checkpointEvery: 100 },
    };
  },
  summarize(runs: RunRecord[]) {
    const table: ReportTable = {
      title: "Validation loss and routing",
      columns: ["model", "validation loss", "bits per char", "late fluctuation (top-1)", "routing entropy (nats)", "busiest expert × experts"],
      rows: runs.map((r) => {
        const m = finalEvals(r)[0]?.metrics ?? {};
        return [r.name, m.loss ?? null, m.bitsPerChar ?? null, lateFluctuation(r), m.routingEntropy ?? null, m.loadMax ?? null];
      }),
      note: "Routing columns are empty for models without MoE layers. Busiest expert × experts: 1 = perfectly balanced load, 2 = the top expert takes half of all assignments (4 experts).",
    };
    const fluctuation = runs.flatMap((r) => r.evals.filter((e) => e.metrics.fluctuationTop1 !== undefined).map((e) => ({ model: r.name, step: e.step, fluctuation: e.metrics.fluctuationTop1! })));
    const charts: ChartSpec[] = [
      { title: "Validation loss", kind: "bar", data: runs.map((r) => ({ model: r.name, loss: finalEvals(r)[0]?.metrics.loss ?? null })), x: "model", y: "loss", xType: "nominal" },
      { title: "Routing fluctuation between consecutive evaluations", kind: "line", data: fluctuation, x: "step", y: "fluctuation", color: "model", yTitle: "share of tokens whose top-1 expert changed" },
      {
        title: "Expert load balance (busiest expert × experts; 1 = balanced)",
        kind: "bar",
        data: runs.filter((r) => finalEvals(r)[0]?.metrics.loadMax !== undefined).map((r) => ({ model: r.name, load: finalEvals(r)[0]!.metrics.loadMax! })),
        x: "model",
        y: "load",
        xType: "nominal",
      },
    ];
    return { claim: checkClaim(runs), tables: [table], charts };
  },
};
