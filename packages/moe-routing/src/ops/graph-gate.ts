// The token-graph gates (similarity-aware and attention-aware). RECONSTRUCTION: the paper's body and
// code were not available; this follows its PGM reading (token i picks a neighbour j with probability
// M_ij and adopts j's expert distribution), see research/landmark-tempscale-moe.md §3.3–3.4.
import * as tf from "@tensorflow/tfjs";
import { assertOneOf, batchMatMul } from "@attnkit/core";
import { selectExperts } from "./select";
import type { GateResult } from "./top-k-gate";

export type WeightsFrom = "mixed" | "own";
/** `'probs'`: p~ = M·softmax(logits) (the reading above). `'logits'`: p~ = softmax(M·logits), the alternative. */
export type Mixing = "probs" | "logits";

export type GraphGateResult = GateResult & {
  /** `[tokens, experts]`: p~, the probabilities the experts are chosen by. */
  mixedProbs: tf.Tensor;
};

export interface GraphOptions {
  weightsFrom?: WeightsFrom;
  mixing?: Mixing;
}

export function checkGraphOptions(fn: string, options: GraphOptions): { weightsFrom: WeightsFrom; mixing: Mixing } {
  const weightsFrom = options.weightsFrom ?? "mixed";
  assertOneOf(fn, "weightsFrom", weightsFrom, ["mixed", "own"] as const);
  const mixing = options.mixing ?? "probs";
  assertOneOf(fn, "mixing", mixing, ["probs", "logits"] as const);
  return { weightsFrom, mixing };
}

/** `v: [..., T, E]` → `M·v` for the gate's row-stochastic token matrix M (never materialised when it need not be). */
export type MixFn = (v: tf.Tensor) => tf.Tensor;

/** M·v for an explicit `[..., T, T]` matrix. */
export const mixByMatrix = (m: tf.Tensor): MixFn => (v) => batchMatMul(m, v);

/**
 * Gate from router logits `[..., T, E]` mixed over tokens by a row-stochastic token matrix.
 * Call inside a tidy.
 */
export function graphGate(logits: tf.Tensor, mix: MixFn, topK: number, renormalize: boolean, graph: { weightsFrom: WeightsFrom; mixing: Mixing }): GraphGateResult {
  const probs = tf.softmax(logits);
  const mixedProbs = graph.mixing === "probs" ? mix(probs) : tf.softmax(mix(logits));
  const weights = graph.weightsFrom === "mixed" ? mixedProbs : probs;
  const { combine, indices } = selectExperts(mixedProbs, weights, topK, renormalize);
  return { combine, indices, probs, mixedProbs };
}
