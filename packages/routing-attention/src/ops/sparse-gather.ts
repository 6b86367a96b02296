// Attention of each query over its own listed keys (the second half of a selector such as HISA).
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertKnownOptions, assertRank, checkAttentionInputs, resolveScale, shapeString } from "@attnkit/core";
import { MASKED, flatIndex, gatherRows } from "./common";

export interface SparseGatherAttentionOptions {
  /** Default dim ** -0.5. */
  scale?: number | null;
}

const NAME = "sparseGatherAttention";

/**
 * `indices: [b, h or 1, seqQ, n]` int32 key positions (−1 = empty) → `[b, h, seqQ, dimV]`. A row with no
 * listed key gives zeros. Gradients flow to q and to the gathered keys and values.
 */
export function sparseGatherAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, indices: tf.Tensor, options: SparseGatherAttentionOptions = {}): tf.Tensor4D {
  assertKnownOptions(NAME, options, ["scale"]);
  const { batch, heads, seqQ, seqK, dim, dimV } = checkAttentionInputs(NAME, q, k, v);
  assertRank(NAME, "indices", indices, 4);
  if (indices.dtype !== "int32") throw new ShapeError(`${NAME}: indices must be int32, got ${indices.dtype}`);
  const [ib, ih, iq, n] = indices.shape as [number, number, number, number];
  if (ib !== batch || (ih !== heads && ih !== 1) || iq !== seqQ) {
    throw new ShapeError(`${NAME}: indices must have shape [${batch}, ${heads} or 1, ${seqQ}, *], got ${shapeString(indices.shape)}`);
  }
  if (n === 0) throw new OptionError(`${NAME}: indices must list at least one slot per query, got ${shapeString(indices.shape)}`);
  const scale = resolveScale(NAME, options.scale, dim ** -0.5);
  return tf.tidy(() => {
    const idx = ih === heads ? indices : tf.tile(indices, [1, heads, 1, 1]);
    const valid = tf.logicalAnd(tf.greaterEqual(idx, 0), tf.less(idx, seqK));
    const safe = tf.where(valid, idx, tf.zerosLike(idx));
    const rows = flatIndex(safe, batch, heads, seqK);
    const kg = gatherRows(k.reshape([batch * heads * seqK, dim]) as tf.Tensor2D, rows).reshape([batch, heads, seqQ, n, dim]);
    const vg = gatherRows(v.reshape([batch * heads * seqK, dimV]) as tf.Tensor2D, rows).reshape([batch, heads, seqQ, n, dimV]);
    const logits = q.mul(scale).expandDims(3).mul(kg).sum(-1);
    const p = tf.softmax(tf.where(valid, logits, tf.fill(logits.shape, MASKED))).mul(valid.any(-1, true).cast("float32"));
    return p.expandDims(-1).mul(vg).sum(3) as tf.Tensor4D;
  });
}
