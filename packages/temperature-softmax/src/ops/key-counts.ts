// n = the number of keys each query may attend to, for SSMax and log-n scaling.
import * as tf from "@tensorflow/tfjs";
import { assertRank, assertShape, type AttentionDims } from "@attnkit/core";

/**
 * Checks an optional `[batch, seqK]` key mask (1/true = keep) and returns it as float32 `[b, seqK]`, or
 * null. Call inside a tidy.
 */
export function keyMaskFloat(fn: string, keyMask: unknown, dims: AttentionDims): tf.Tensor2D | null {
  if (keyMask === undefined || keyMask === null) return null;
  assertRank(fn, "keyMask", keyMask, 2);
  assertShape(fn, "keyMask", keyMask, [dims.batch, dims.seqK]);
  return (keyMask.dtype === "bool" ? keyMask.cast("float32") : tf.notEqual(keyMask, 0).cast("float32")) as tf.Tensor2D;
}

/**
 * n per query as a float32 tensor `[1 or b, 1, seqQ, 1]`. Causal queries are aligned to the end of the
 * keys (as in core's attention): query i sees keys 0 … i + seqK − seqQ. Masked keys are not counted.
 * A query with no visible key gets n = 0. Call inside a tidy.
 */
export function keyCounts(dims: AttentionDims, causal: boolean, keep: tf.Tensor2D | null): tf.Tensor4D {
  const { batch, seqQ, seqK } = dims;
  const offset = seqK - seqQ;
  if (!keep) {
    const n = new Float32Array(seqQ);
    for (let i = 0; i < seqQ; i++) n[i] = causal ? Math.min(seqK, Math.max(0, i + offset + 1)) : seqK;
    return tf.tensor4d(n, [1, 1, seqQ, 1]);
  }
  if (!causal) return keep.sum(1).reshape([batch, 1, 1, 1]).tile([1, 1, seqQ, 1]) as tf.Tensor4D;
  // Count of kept keys up to each position, then read at the last key each query sees.
  const upTo = tf.cumsum(keep, 1);
  const last = new Int32Array(seqQ);
  const seesAny = new Float32Array(seqQ);
  for (let i = 0; i < seqQ; i++) {
    const t = Math.min(seqK - 1, i + offset);
    last[i] = Math.max(0, t);
    seesAny[i] = t >= 0 ? 1 : 0;
  }
  const counts = tf.gather(upTo, tf.tensor1d(last, "int32"), 1).mul(tf.tensor2d(seesAny, [1, seqQ]));
  return counts.reshape([batch, 1, seqQ, 1]) as tf.Tensor4D;
}
