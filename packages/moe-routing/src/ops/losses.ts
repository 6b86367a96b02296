// Auxiliary router losses.
import * as tf from "@tensorflow/tfjs";
import { ShapeError, assertFloat, assertKnownOptions, assertOneOf, assertRank, shapeString } from "@attnkit/core";
import { assignmentMask } from "./select";

export interface LoadBalancingLossOptions {
  /** `'switch'` (default): f_e from top-1 choices; `'topk'`: from all T·k assignments. */
  variant?: "switch" | "topk";
}

/**
 * `E · Σ_e f_e · P_e`, with `f_e` the fraction of tokens (or of the T·k assignments, `'topk'`) routed to
 * expert e and `P_e` the mean router probability of e. Equals 1 for uniform routing. Gradients flow
 * through `probs` only. `probs: [..., E]`, `indices: [..., k]` int32 (−1 slots count nothing). The
 * fastmoe code's value is the `'topk'` value divided by k (then scaled by 0.01).
 */
export function loadBalancingLoss(probs: tf.Tensor, indices: tf.Tensor, options: LoadBalancingLossOptions = {}): tf.Scalar {
  const fn = "loadBalancingLoss";
  assertKnownOptions(fn, options, ["variant"]);
  assertRank(fn, "probs", probs, [2, 3]);
  assertFloat(fn, "probs", probs);
  assertRank(fn, "indices", indices, probs.rank);
  const lead = probs.shape.slice(0, -1);
  if (indices.dtype !== "int32" || indices.shape.slice(0, -1).some((d, i) => d !== lead[i]) || indices.shape[indices.rank - 1]! < 1) {
    throw new ShapeError(`${fn}: indices must be an int32 tensor of shape [${lead.join(", ")}, k], got a ${indices.dtype} tensor of shape ${shapeString(indices.shape)}`);
  }
  const variant = options.variant ?? "switch";
  assertOneOf(fn, "variant", variant, ["switch", "topk"] as const);
  return tf.tidy(() => {
    const experts = probs.shape[probs.rank - 1]!;
    const p = probs.reshape([-1, experts]);
    const idx = indices.reshape([p.shape[0]!, -1]);
    const chosen = variant === "switch" ? idx.slice([0, 0], [-1, 1]) : idx;
    const counts = assignmentMask(chosen, experts).sum(0);
    const f = counts.div(chosen.size);
    return f.mul(p.mean(0)).sum().mul(experts) as tf.Scalar;
  });
}

/** Router z-loss (ST-MoE): mean over tokens of logsumexp(logits)², which keeps router logits small. */
export function routerZLoss(logits: tf.Tensor): tf.Scalar {
  const fn = "routerZLoss";
  assertRank(fn, "logits", logits, [2, 3]);
  assertFloat(fn, "logits", logits);
  return tf.tidy(() => tf.logSumExp(logits, -1).square().mean() as tf.Scalar);
}
