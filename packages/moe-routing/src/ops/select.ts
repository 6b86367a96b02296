// Expert selection shared by every gate: top-k on the selection probabilities, combine weights from
// (possibly other) probabilities at the chosen experts. The decision itself is not differentiated;
// gradients flow through the chosen probabilities only.
import * as tf from "@tensorflow/tfjs";
import { topKIndices, withoutGradient } from "@attnkit/core";

// Below this a row's chosen mass counts as empty (a fully masked attention row): its combine is zero.
const EMPTY_ROW = 1e-30;

export interface Selection {
  combine: tf.Tensor;
  indices: tf.Tensor;
}

/**
 * `indices = topk(selectProbs, k)` (descending, ties to the lower index) and
 * `combine = weightProbs · onehot(indices)`, renormalised over the chosen experts unless `renormalize`
 * is false (Switch-style raw probabilities). Shapes `[..., E]` → combine `[..., E]`, indices `[..., k]`.
 */
export function selectExperts(selectProbs: tf.Tensor, weightProbs: tf.Tensor, topK: number, renormalize: boolean): Selection {
  const experts = selectProbs.shape[selectProbs.rank - 1]!;
  // One wall for the decision: [..., k] indices (as exact small floats) and the [..., E] chosen mask.
  const packed = withoutGradient((p) => {
    const idx = topKIndices(p, topK);
    return tf.concat([idx.cast("float32"), oneHotMask(idx, experts).sum(-2)], -1);
  }, selectProbs);
  const lead = selectProbs.shape.slice(0, -1).map(() => 0);
  const indices = packed.slice([...lead, 0], [...lead.map(() => -1), topK]).cast("int32");
  const chosen = packed.slice([...lead, topK], [...lead.map(() => -1), experts]);
  const picked = weightProbs.mul(chosen);
  const combine = renormalize ? picked.div(tf.maximum(picked.sum(-1, true), EMPTY_ROW)) : picked;
  return { combine, indices };
}

/** float32 one-hot `[..., E]` of int32 indices; −1 (or any index outside [0, E)) gives a zero row. Works for E = 1 (tf.oneHot needs E ≥ 2). Not differentiable: use behind `withoutGradient`. */
export function oneHotMask(indices: tf.Tensor, experts: number): tf.Tensor {
  // Arithmetic on purpose: WebGPU's cast of a bool tensor feeding a 3-D reduction builds an invalid
  // shader in TF.js 4.22. relu(1 − |i − e|) is exactly 1 at e = i and 0 elsewhere for integers.
  return tf.relu(tf.scalar(1).sub(tf.abs(indices.cast("float32").expandDims(-1).sub(tf.range(0, experts)))));
}

/** Per-expert count `[..., E]` of the assignments in `indices: [..., k]`; −1 slots count nothing. No gradient. */
export function assignmentMask(indices: tf.Tensor, experts: number): tf.Tensor {
  return withoutGradient((idx) => oneHotMask(idx, experts).sum(-2), indices);
}
