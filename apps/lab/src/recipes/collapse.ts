// TempScale's claim at small scale ("Length-Induced Embedding Collapse", Zhou et al. 2024): embeddings
// of longer texts crowd together (higher mean pairwise cosine), because attention low-pass filters more
// as length grows (smaller σ_a); a softmax temperature τ < 1 raises σ_a and lowers the cosine.
import { preset } from "@attnkit/models";
import { lateTrainingLoss } from "../engine/lr-sweep";
import { finalEvals } from "../report/evals";
import type { ChartSpec, ClaimCheck, ReportTable } from "../report/types";
import type { EvalRow, RunRecord } from "../run-files";
import type { Recipe, RecipeSetup } from "./recipe";

const TAUS = [1, 0.9, 0.8];
/** The encoder has learned its contrastive task when its late training loss is below this share of chance (or
 * of its first loss, if lower: overlapping crops already score below chance at initialisation). */
const LEARNED = 0.9;
/** InfoNCE over a batch of B pairs: each of the 2B spans picks its partner among 2B − 1 others. */
const chanceLoss = (batch: number) => Math.log(2 * batch - 1);
const tauOf = (row: EvalRow) => Number((row.variant ?? "").replace(/^tau=/, ""));

function checkClaim(run: RunRecord | undefined): ClaimCheck {
  const claim = "Embeddings collapse with length (the mean pairwise cosine of pooled embeddings rises with length at τ = 1), and τ < 1 raises σ_a and lowers that cosine at the longest length.";
  if (!run) return { claim, holds: null, detail: "the recipe needs the encoder run" };
  const rows = finalEvals(run).filter((r) => r.length !== null && Number.isFinite(tauOf(r)));
  const at = (tau: number) => rows.filter((r) => tauOf(r) === tau).sort((a, b) => a.length! - b.length!);
  const base = at(1);
  const taus = [...new Set(rows.map(tauOf))].filter((t) => t < 1).sort((a, b) => a - b);
  if (base.length < 2 || taus.length === 0) return { claim, holds: null, detail: "needs τ = 1 at two lengths or more and some τ < 1" };
  const sharp = at(taus[0]!);
  const [shortest, longest] = [base[0]!, base[base.length - 1]!];
  const sharpLong = sharp.find((r) => r.length === longest.length);
  if (!sharpLong) return { claim, holds: null, detail: `τ = ${taus[0]} was not evaluated at length ${longest.length}` };
  const collapse = longest.metrics.cosine! > shortest.metrics.cosine!;
  const sigmaUp = sharpLong.metrics.sigmaA! > longest.metrics.sigmaA!;
  const cosineDown = sharpLong.metrics.cosine! < longest.metrics.cosine!;
  const f = (x: number) => x.toFixed(4);
  const numbers =
    `τ = 1: cosine ${f(shortest.metrics.cosine!)} at ${shortest.length} characters → ${f(longest.metrics.cosine!)} at ${longest.length} (${collapse ? "rises" : "does not rise"}); ` +
    `at ${longest.length}, τ = ${taus[0]} vs 1: σ_a ${f(sharpLong.metrics.sigmaA!)} vs ${f(longest.metrics.sigmaA!)} (${sigmaUp ? "higher" : "not higher"}), ` +
    `cosine ${f(sharpLong.metrics.cosine!)} vs ${f(longest.metrics.cosine!)} (${cosineDown ? "lower" : "not lower"})`;
  // An encoder still at chance on its training task is a random map: its metrics say nothing of the claim.
  const late = lateTrainingLoss.of(run);
  const chance = chanceLoss(run.config.train.batch);
  const first = run.train[0]?.loss ?? chance;
  if (late === null || late > LEARNED * Math.min(chance, first)) {
    const loss = late === null ? "no training loss recorded" : `late training loss ${late.toFixed(3)}, first ${first.toFixed(3)}, chance ln(2·${run.config.train.batch} − 1) = ${chance.toFixed(3)}`;
    return { claim, holds: null, detail: `the encoder has not learned its contrastive task (${loss}); ${numbers}` };
  }
  return { claim, holds: collapse && sigmaUp && cosineDown, detail: numbers };
}

export const collapseRecipe: Recipe = {
  name: "collapse",
  title: "Length collapse of text embeddings and TempScale",
  description:
    "TempScale (Zhou et al. 2024, arXiv 2410.24200): a 2-layer character encoder (learned positions, TempScale attention at fixed τ = 1, mean-pooled output) " +
    "is trained on State of the Union addresses with an unsupervised contrastive objective: two crops of one address that share half their characters are a positive pair, " +
    "the other crops of the batch are negatives (InfoNCE on cosine similarity, temperature 0.05, as Contriever's cropping), crop lengths 32–256 characters. " +
    "Then, on passages of held-out addresses of 32, 64, 128 and 256 characters, every attention layer's τ is set to 1, 0.9 and 0.8 (the same weights; " +
    "TempScale is applied at inference) and we measure the mean pairwise cosine of the embeddings per length, σ_a = σ_max((I − 11ᵀ/n)A) of the attention " +
    "matrices (mean over layers and heads) and the DC energy ratio of the last hidden states. Evaluations during training show the same metrics from the start.",
  setup({ reduced }): RecipeSetup {
    const spec = preset("tempscale-encoder", { numLayers: 2, position: "learned", seed: 1, attention: { kind: "tempscale", temperatureMode: "fixed", temperature: 1 } });
    const lengths = reduced ? [32, 64] : [32, 64, 128, 256];
    return {
      task: { name: "collapse", options: reduced ? { trainLengths: lengths, taus: TAUS, passages: 8, sigmaPassages: 2 } : { trainLengths: lengths, taus: TAUS } },
      models: [{ name: "encoder", spec }],
      train: reduced
        ? { steps: 20, batch: 8, lr: 1e-3, seed: 0, evalEvery: 0, checkpointEvery: 0 }
        : { steps: 600, batch: 16, lr: 1e-3, seed: 0, evalEvery: 100, checkpointEvery: 100 },
      lengths,
    };
  },
  summarize(runs: RunRecord[]) {
    const run = runs.find((r) => r.name === "encoder") ?? runs[0];
    const rows = (run ? finalEvals(run).filter((r) => r.length !== null) : []).sort((a, b) => tauOf(b) - tauOf(a) || a.length! - b.length!);
    const table: ReportTable = {
      title: "Collapse metrics by passage length and τ",
      columns: ["τ", "length (characters)", "mean pairwise cosine", "σ_a", "DC energy ratio"],
      rows: rows.map((r) => [tauOf(r), r.length, r.metrics.cosine ?? null, r.metrics.sigmaA ?? null, r.metrics.dcEnergy ?? null]),
      note: "Higher cosine = embeddings more collapsed; higher σ_a = attention lets more of the high-frequency (non-mean) signal through; DC energy 1 = every token equals the mean token.",
    };
    const line = (title: string, y: string, metric: string): ChartSpec => ({
      title,
      kind: "line",
      data: rows.map((r) => ({ tau: `τ = ${tauOf(r)}`, length: r.length, [y]: r.metrics[metric] ?? null })),
      x: "length",
      y,
      color: "tau",
      xScale: "log",
      xTitle: "passage length (characters)",
    });
    const charts = [line("Mean pairwise cosine of embeddings vs length", "cosine", "cosine"), line("σ_a (attention high-pass gain) vs length", "sigmaA", "sigmaA"), line("DC energy of the last hidden states vs length", "dcEnergy", "dcEnergy")];
    return { claim: checkClaim(run), tables: [table], charts };
  },
};
