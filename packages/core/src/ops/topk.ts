import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors";
import { assertInteger, assertKnownOptions, assertRank, assertTensor, shapeString } from "../validate";

export interface TopKIndicesOptions {
  /** Which entries may be chosen (1/true = valid), broadcastable to `scores`. */
  valid?: tf.Tensor;
}

const NAME = "topKIndices";
// Valid scores are clamped above this so that a valid −∞ still ranks before every invalid entry, and
// ties among them keep TF.js's lower-index rule (−∞ − −∞ is NaN in its comparator).
const LOWEST_VALID = -3.4e38;

/**
 * Indices of the k largest entries along the last axis: int32 `[..., k]`, descending score, ties to the
 * lower index, `-1` in the slots beyond the number of valid entries of a row. Not differentiable
 * (routing decisions never are); gather the chosen values to train through them.
 */
export function topKIndices(scores: tf.Tensor, k: number, options: TopKIndicesOptions = {}): tf.Tensor {
  assertKnownOptions(NAME, options, ["valid"]);
  assertRank(NAME, "scores", scores, [1, 2, 3, 4, 5, 6]);
  const n = scores.shape[scores.rank - 1]!;
  assertInteger(NAME, "k", k, { min: 0, max: n });
  const { valid } = options;
  if (valid !== undefined) {
    assertTensor(NAME, "valid", valid);
    const s = valid.shape;
    const ok = s.length <= scores.rank && s.every((d, i) => d === 1 || d === scores.shape[scores.rank - s.length + i]);
    if (!ok) throw new ShapeError(`${NAME}: valid must broadcast to scores ${shapeString(scores.shape)}, got ${shapeString(s)}`);
  }
  return tf.tidy(() => {
    if (k === 0) return tf.zeros([...scores.shape.slice(0, -1), 0], "int32");
    const x = scores.dtype === "float32" ? scores : scores.cast("float32");
    if (valid === undefined) {
      return tf.topk(tf.maximum(x, LOWEST_VALID), k, true).indices;
    }
    const keep = valid.dtype === "bool" ? valid : tf.notEqual(valid, 0);
    const ranked = tf.where(keep, tf.maximum(x, LOWEST_VALID), tf.scalar(-Infinity));
    const { indices } = tf.topk(ranked, k, true);
    const count = tf.broadcastTo(keep, x.shape).cast("int32").sum(-1, true);
    const slot = tf.range(0, k, 1, "int32");
    return tf.where(tf.less(slot, count), indices, tf.scalar(-1, "int32"));
  });
}
