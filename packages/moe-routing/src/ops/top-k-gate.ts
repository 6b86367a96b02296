// Plain SMoE gate: softmax over all experts, then top-k (fastmoe's NaiveGate: softmax over the k chosen
// logits, which equals the full softmax renormalised over the chosen experts).
import * as tf from "@tensorflow/tfjs";
import { assertKnownOptions } from "@attnkit/core";
import { checkGateInputs, routerLogits, type GateBase } from "./gate-inputs";
import { selectExperts } from "./select";

export type TopKGateOptions = GateBase;

export type GateResult = {
  /** `[tokens, experts]`: the chosen experts' weights, zero elsewhere. */
  combine: tf.Tensor;
  /** int32 `[tokens, topK]`, by descending selection probability, ties to the lower expert. */
  indices: tf.Tensor;
  /** `[tokens, experts]`: softmax of the token's own router logits. */
  probs: tf.Tensor;
};

/**
 * `p = softmax(x·wGate + bias)`, `indices = topk(p, topK)`, `combine = p[indices]` renormalised (or raw
 * with `renormalize: false`, as Switch top-1). `x: [tokens, d]` (a leading batch axis is allowed).
 */
export function topKGate(x: tf.Tensor, wGate: tf.Tensor, options: TopKGateOptions): GateResult {
  const fn = "topKGate";
  assertKnownOptions(fn, options, ["topK", "bias", "renormalize"]);
  const dims = checkGateInputs(fn, x, wGate, options);
  return tf.tidy(() => {
    const probs = tf.softmax(routerLogits(x, wGate, options.bias));
    const { combine, indices } = selectExperts(probs, probs, dims.topK, dims.renormalize);
    return { combine, indices, probs };
  });
}
