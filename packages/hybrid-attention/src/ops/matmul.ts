// Batched products over many small matrices (one per chunk and head). Measured on TF.js 4.22 wasm under
// load: core's batchMatMul splits the batch with tf.unstack, and every wasm Slice/Unpack output costs
// time proportional to the WHOLE input (≈10 ms per 64×64 slice of a [256, 64, 64] tensor), so a split
// into hundreds of chunks is far slower than TF.js's batched kernel. With many small matrices we
// therefore fold the leading dimensions into one batch and call tf.matMul directly.
import * as tf from "@tensorflow/tfjs";
import { batchMatMul } from "@attnkit/core";

/** op(a)·op(b) for a, b [..., m, k] with equal leading dimensions (b may be 2-D and shared). */
export function chunkMatMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  const lead = a.shape.slice(0, -2);
  const batch = lead.reduce((p, d) => p * d, 1);
  // Few matrices, or a shared 2-D right side: core's path (2-D products) is the fast one.
  if (b.rank === 2 || batch <= 8) return batchMatMul(a, b, transposeA, transposeB);
  const a3 = a.reshape([batch, a.shape[a.rank - 2]!, a.shape[a.rank - 1]!]);
  const b3 = b.reshape([batch, b.shape[b.rank - 2]!, b.shape[b.rank - 1]!]);
  const out = tf.matMul(a3, b3, transposeA, transposeB);
  return out.reshape([...lead, out.shape[1]!, out.shape[2]!]);
}

/** Splits x along axis 0 into its slices (gather: O(slice) each on wasm, unlike Slice/Unpack). */
export function splitLeading(x: tf.Tensor): tf.Tensor[] {
  const n = x.shape[0]!;
  const rest = x.shape.slice(1);
  if (n === 1) return [x.reshape(rest)];
  return Array.from({ length: n }, (_, i) => tf.gather(x, [i]).reshape(rest));
}
