// Similarity-Aware (S)MoE gate. RECONSTRUCTION (no paper body or code was available):
//   S = softmax_j(x_iᵀ W_s x_j / τ)   (W_s = I by default; kind 'cosine' uses unit-length x)
//   p~ = S·softmax(x W_g);  indices = topk(p~);  combine = p~[indices] renormalised.
import * as tf from "@tensorflow/tfjs";
import { ShapeError, assertBoolean, assertFloat, assertKnownOptions, assertNumber, assertOneOf, assertRank, batchMatMul, l2Normalize, shapeString } from "@attnkit/core";
import { checkGateInputs, routerLogits, type GateBase } from "./gate-inputs";
import { checkGraphOptions, graphGate, type GraphGateResult, type GraphOptions } from "./graph-gate";

export interface SimilarityAwareGateOptions extends GateBase, GraphOptions {
  /** τ > 0 divides the similarities. With `kind: 'cosine'` and τ → 0, S → I and the gate is plain top-k. */
  temperature: number;
  /** `'dot'` (default): x_iᵀ W_s x_j; `'cosine'`: the same on unit-length tokens. */
  kind?: "dot" | "cosine";
  /** Token j is a neighbour of i only if j ≤ i (decoders: no routing leak from the future). */
  causal?: boolean;
  /** `[d, d]` similarity metric W_s (identity when absent); gradients reach it. */
  wSim?: tf.Tensor;
}

export type SimilarityGateResult = GraphGateResult & {
  /** `[tokens, tokens]`: S, rows are distributions over neighbours. */
  similarity: tf.Tensor;
};

const NAME = "similarityAwareGate";

/** Lower-triangular keep mask `[T, T]` (j ≤ i). */
export function lowerTriangle(t: number): tf.Tensor {
  return tf.linalg.bandPart(tf.ones([t, t], "float32"), -1, 0);
}

/**
 * The Similarity-Aware gate: routes token i by the expert distribution of the tokens it is similar to.
 * `x: [tokens, d]` or `[batch, tokens, d]` (tokens interact within a sequence). Returns the top-k gate's
 * fields plus `mixedProbs` (p~) and `similarity` (S). Mixing logits instead (`mixing: 'logits'`) and
 * taking the weights from the token's own probabilities (`weightsFrom: 'own'`) are the alternatives.
 */
export function similarityAwareGate(x: tf.Tensor, wGate: tf.Tensor, options: SimilarityAwareGateOptions): SimilarityGateResult {
  assertKnownOptions(NAME, options, ["topK", "bias", "renormalize", "temperature", "kind", "causal", "wSim", "weightsFrom", "mixing"]);
  const dims = checkGateInputs(NAME, x, wGate, options);
  assertNumber(NAME, "temperature", options.temperature, { min: 0, minExclusive: true });
  const kind = options.kind ?? "dot";
  assertOneOf(NAME, "kind", kind, ["dot", "cosine"] as const);
  const causal = options.causal ?? false;
  assertBoolean(NAME, "causal", causal);
  const { wSim } = options;
  if (wSim !== undefined) {
    assertRank(NAME, "wSim", wSim, 2);
    assertFloat(NAME, "wSim", wSim);
    if (wSim.shape[0] !== dims.dModel || wSim.shape[1] !== dims.dModel) {
      throw new ShapeError(`${NAME}: wSim must have shape [${dims.dModel}, ${dims.dModel}], got ${shapeString(wSim.shape)}`);
    }
  }
  const graph = checkGraphOptions(NAME, options);
  return tf.tidy(() => {
    const similarity = similarityMatrix(x, { temperature: options.temperature, kind, causal, wSim });
    const gate = graphGate(routerLogits(x, wGate, options.bias), similarity, dims.topK, dims.renormalize, graph);
    return { ...gate, similarity };
  });
}

/** S = softmax_j(x_iᵀ W_s x_j / τ), causal-masked; `[..., T, T]`. Call inside a tidy; inputs checked by the caller. */
export function similarityMatrix(x: tf.Tensor, o: { temperature: number; kind: "dot" | "cosine"; causal: boolean; wSim?: tf.Tensor | undefined }): tf.Tensor {
  const t = x.shape[x.rank - 2]!;
  const u = o.kind === "cosine" ? l2Normalize(x) : x;
  const left = o.wSim ? batchMatMul(u, o.wSim) : u;
  let scores = batchMatMul(left, u, false, true).div(o.temperature);
  if (o.causal) {
    // The diagonal is always visible, so no row is ever empty.
    scores = tf.where(tf.cast(lowerTriangle(t), "bool"), scores, tf.scalar(-Infinity));
  }
  return tf.softmax(scores);
}
