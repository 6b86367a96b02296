// Similarity-Aware (S)MoE gate. RECONSTRUCTION (no paper body or code was available):
//   S = softmax_j(x_iᵀ W_s x_j / τ)   (W_s = I by default; kind 'cosine' uses unit-length x)
//   p~ = S·softmax(x W_g);  indices = topk(p~);  combine = p~[indices] renormalised.
import * as tf from "@tensorflow/tfjs";
import { ShapeError, assertBoolean, assertFloat, assertKnownOptions, assertNumber, assertOneOf, assertRank, batchMatMul, l2Normalize, scaledDotProductAttention, shapeString, visibilityBias } from "@attnkit/core";
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
    let similarity: tf.Tensor | null = null;
    const mix = (v: tf.Tensor) => {
      const r = similarityMix(x, v, { temperature: options.temperature, kind, causal, wSim }, true);
      similarity = r.similarity;
      return r.output;
    };
    const gate = graphGate(routerLogits(x, wGate, options.bias), mix, dims.topK, dims.renormalize, graph);
    return { ...gate, similarity: similarity! };
  });
}

export interface SimilarityOptions {
  temperature: number;
  kind: "dot" | "cosine";
  causal: boolean;
  wSim?: tf.Tensor | undefined;
}

// Additive score of a hidden neighbour, as in core's attention: exp underflows to exactly 0.
const MASKED = -1e30;

/**
 * S·v with S = softmax_j(x_iᵀ W_s x_j / τ) (causal-masked), for `x: [..., T, d]`, `v: [..., T, E]`. This
 * is attention with q = x·W_s, k = x, values v and scale 1/τ. Without the matrix it runs on core's blocked
 * attention (no [T, T] matrix). With it, S is built directly: 1/τ on the [T, d] side, x·xᵀ as 2-D products
 * (core's batchMatMul, explicit transpose), a host-built causal bias and one fused softmax. Core's
 * attention would return S packed next to the output and cut it apart with two wasm slices, each of which
 * copies the whole [T, T + E] block to the host (≈ 70 ms of 137 at T = 1024). Call inside a tidy.
 */
export function similarityMix(x: tf.Tensor, v: tf.Tensor, o: SimilarityOptions, withMatrix: boolean): { output: tf.Tensor; similarity: tf.Tensor | null } {
  const u = o.kind === "cosine" ? l2Normalize(x) : x;
  const q = o.wSim ? batchMatMul(u, o.wSim) : u;
  if (!withMatrix) {
    const as4 = (t: tf.Tensor) => (t.rank === 2 ? t.expandDims(0).expandDims(0) : t.expandDims(1)) as tf.Tensor4D;
    const back = (t: tf.Tensor) => (x.rank === 2 ? t.squeeze([0, 1]) : t.squeeze([1]));
    return { output: back(scaledDotProductAttention(as4(q), as4(u), as4(v), { scale: 1 / o.temperature, causal: o.causal })), similarity: null };
  }
  const t = x.shape[x.rank - 2]!;
  const scores = batchMatMul(q.mul(1 / o.temperature), u, false, true);
  const hidden = o.causal ? visibilityBias({ causal: true, window: null, offset: 0, seqK: t }, 0, t, 0, t, MASKED) : null;
  const similarity = tf.softmax(hidden ? scores.add(hidden) : scores);
  return { output: batchMatMul(similarity, v), similarity };
}
