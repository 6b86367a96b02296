// Per-row intersection over union of two index sets (−1 = empty slot), HISA's fidelity metric.
import * as tf from "@tensorflow/tfjs";
import { ShapeError, assertRank, shapeString } from "@attnkit/core";

const NAME = "indexIoU";

/** `a: [..., ka]`, `b: [..., kb]` int32 with the same leading shape → `[...]` float32; two empty rows give 1. */
export function indexIoU(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  assertRank(NAME, "a", a, [1, 2, 3, 4, 5]);
  assertRank(NAME, "b", b, [1, 2, 3, 4, 5]);
  const lead = a.shape.slice(0, -1);
  if (b.rank !== a.rank || b.shape.slice(0, -1).some((d, i) => d !== lead[i])) {
    throw new ShapeError(`${NAME}: b must have the leading shape of a ${shapeString(a.shape)}, got ${shapeString(b.shape)}`);
  }
  if (a.dtype !== "int32" || b.dtype !== "int32") throw new ShapeError(`${NAME}: a and b must be int32 index tensors, got ${a.dtype} and ${b.dtype}`);
  const ka = a.shape[a.rank - 1]!;
  const kb = b.shape[b.rank - 1]!;
  const rows = lead.reduce((p, d) => p * d, 1);
  // Rows in chunks so that the [rows, ka, kb] comparison stays near 4M elements.
  const chunk = Math.max(1, Math.floor((1 << 22) / Math.max(1, ka * kb)));
  return tf.tidy(() => {
    const a2 = a.reshape([rows, ka]);
    const b2 = b.reshape([rows, kb]);
    const parts: tf.Tensor[] = [];
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const n = Math.min(rows, r0 + chunk) - r0;
      const ac = a2.slice([r0, 0], [n, ka]);
      const bc = b2.slice([r0, 0], [n, kb]);
      const validA = tf.greaterEqual(ac, 0);
      const hit = tf.logicalAnd(tf.equal(ac.expandDims(2), bc.expandDims(1)).any(2), validA);
      const inter = hit.cast("float32").sum(1);
      const union = validA.cast("float32").sum(1).add(tf.greaterEqual(bc, 0).cast("float32").sum(1)).sub(inter);
      parts.push(tf.where(tf.equal(union, 0), tf.onesLike(union), inter.div(tf.maximum(union, 1))));
    }
    return (parts.length === 1 ? parts[0]! : tf.concat(parts, 0)).reshape(lead);
  });
}
