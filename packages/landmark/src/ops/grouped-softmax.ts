// The training-time grouped softmax of landmark attention, on given (already scaled) scores, for any
// landmark layout. Follows `LandmarkGroupedSoftmaxFunction` in the official `landmark.py`:
//   G0 (global group) = regular keys of the query's own block up to the query, plus the landmarks of
//   earlier blocks (the own block's landmark is masked, also when the query is that landmark);
//   Gb = regular keys of an earlier block b.
//   w = p0 on own-block keys, pb · p0[landmark b] on keys of block b, 0 on every landmark.
// Blocks are contiguous runs of keys, so per-block maxima and sums are segmented scans (log2(Tk) steps)
// instead of the official scatter_reduce, which TF.js lacks; no host read of the layout is needed.
import * as tf from "@tensorflow/tfjs";
import { ShapeError, assertRank, assertTensor, shapeString } from "@attnkit/core";

const NAME = "landmarkGroupedSoftmax";
export const MASKED = -1e30;

/** Landmark flags as a float32 `[Tk]` tensor of 0/1. */
export function landmarkFlags(fn: string, isLandmark: tf.Tensor | boolean[], length: number): tf.Tensor1D {
  if (Array.isArray(isLandmark)) {
    if (isLandmark.length !== length || isLandmark.some((x) => typeof x !== "boolean")) {
      throw new ShapeError(`${fn}: isLandmark must hold ${length} booleans (one per key), got an array of length ${isLandmark.length}`);
    }
    return tf.tensor1d(isLandmark.map(Number), "float32");
  }
  assertTensor(fn, "isLandmark", isLandmark);
  if (isLandmark.size !== length || isLandmark.rank !== 1) {
    throw new ShapeError(`${fn}: isLandmark must have shape [${length}] (one flag per key), got ${shapeString(isLandmark.shape)}`);
  }
  return tf.tidy(() => tf.notEqual(isLandmark, 0).cast("float32")) as tf.Tensor1D;
}

/** Inclusive segmented scan of `x` along its last axis, forward and backward combined (the whole segment). */
function segmentReduce(x: tf.Tensor, segments: tf.Tensor1D, kind: "max" | "sum"): tf.Tensor {
  const n = x.shape[x.rank - 1]!;
  const fill = kind === "max" ? MASKED : 0;
  const scan = (reverse: boolean): tf.Tensor => {
    let acc = x;
    for (let d = 1; d < n; d *= 2) {
      const padding = x.shape.map((): [number, number] => [0, 0]);
      padding[x.rank - 1] = reverse ? [0, d] : [d, 0];
      const begin = x.shape.map(() => 0);
      if (reverse) begin[x.rank - 1] = d;
      const shifted = acc.pad(padding, fill).slice(begin, x.shape);
      const segShifted = segments.pad([reverse ? [0, d] : [d, 0]], -1).slice([reverse ? d : 0], [n]);
      const same = tf.equal(segments, segShifted);
      acc = kind === "max" ? tf.where(same, tf.maximum(acc, shifted), acc) : acc.add(shifted.mul(same.cast("float32")));
    }
    return acc;
  };
  const forward = scan(false);
  const backward = scan(true);
  return kind === "max" ? tf.maximum(forward, backward) : forward.add(backward).sub(x);
}

/**
 * Grouped-softmax probabilities `[..., Tq, Tk]` of `scores: [..., Tq, Tk]` with landmark flags
 * `isLandmark: [Tk]`. Queries are aligned to the end of the keys (query i sits at key position
 * Tk − Tq + i) and see keys up to their own position. Each row sums to 1 in the standard layout; a row
 * with no visible key gives zeros. Differentiable with respect to `scores`.
 */
export function landmarkGroupedSoftmax(scores: tf.Tensor, isLandmark: tf.Tensor | boolean[]): tf.Tensor {
  assertRank(NAME, "scores", scores, [2, 3, 4, 5, 6]);
  if (scores.dtype !== "float32") throw new ShapeError(`${NAME}: scores must be float32, got a ${scores.dtype} tensor of shape ${shapeString(scores.shape)}`);
  const tq = scores.shape[scores.rank - 2]!;
  const tk = scores.shape[scores.rank - 1]!;
  if (tq > tk) throw new ShapeError(`${NAME}: scores must have no more query rows than key columns (queries are the last keys), got ${shapeString(scores.shape)}`);
  return tf.tidy(() => {
    const flags = landmarkFlags(NAME, isLandmark, tk);
    const blocks = flags.cumsum().sub(flags) as tf.Tensor1D;
    const queryPos = tf.range(tk - tq, tk, 1, "int32");
    const queryBlock = tf.gather(blocks, queryPos).reshape([tq, 1]);
    const keyPos = tf.range(0, tk, 1, "int32").reshape([1, tk]);
    const causal = tf.lessEqual(keyPos, queryPos.reshape([tq, 1]));
    const landmark = tf.greater(flags, 0.5).reshape([1, tk]);
    const regular = tf.logicalNot(landmark);
    const earlier = tf.less(blocks.reshape([1, tk]), queryBlock);
    const own = tf.logicalAnd(tf.logicalAnd(causal, regular), tf.equal(blocks.reshape([1, tk]), queryBlock));
    const global = tf.logicalOr(own, tf.logicalAnd(landmark, earlier));
    const inBlock = tf.logicalAnd(earlier, regular);

    const masked = tf.fill(scores.shape, MASKED);
    let p0 = tf.softmax(tf.where(global, scores, masked));
    p0 = p0.mul(tf.any(global, -1, true).cast("float32"));
    // Within each earlier block: softmax over its regular keys, shifted by the block's own maximum.
    const x = tf.where(inBlock, scores, masked);
    const e = tf.where(inBlock, tf.exp(x.sub(segmentReduce(x, blocks, "max"))), tf.zerosLike(x));
    const sums = segmentReduce(e, blocks, "sum");
    // A block with any visible key sums to ≥ 1 (its maximum contributes exp(0)); empty ones sum to 0.
    const pb = e.div(tf.maximum(sums, 1));
    // The gate of a block is its landmark's p0, spread over the block's keys.
    const gate = segmentReduce(p0.mul(landmark.cast("float32")), blocks, "sum");
    return tf.where(own, p0, tf.zerosLike(p0)).add(pb.mul(gate));
  });
}
