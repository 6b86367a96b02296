// Helpers shared by the routing ops: block pooling, detached routing, and a row gather whose gradient
// works on every backend (TF.js's gather gradient needs UnsortedSegmentSum, which wasm lacks).
import * as tf from "@tensorflow/tfjs";

/** Settings of one blockRoutingAttention call, shared by its two formulations. */
export interface BlockPlan {
  blockSize: number;
  /** Blocks per query including the current one. */
  topK: number;
  scale: number;
  /** Query rows per chunk. */
  blockRows: number;
}

/** Large negative logit for masked entries (finite, so a fully masked row never becomes NaN). */
export const MASKED = -1e30;

/**
 * Means of contiguous blocks along axis 2 of `x: [b, h, s, d]` → `[b, h, ceil(s / size), d]`. A ragged
 * last block is averaged over its real tokens (MoBA and HISA pool the tail this way).
 */
export function blockMeans(x: tf.Tensor, size: number): tf.Tensor {
  const [b, h, s, d] = x.shape as [number, number, number, number];
  const n = Math.ceil(s / size);
  const padded = n * size === s ? x : tf.pad(x, [[0, 0], [0, 0], [0, n * size - s], [0, 0]]);
  const sums = padded.reshape([b, h, n, size, d]).sum(3);
  if (n * size === s) return sums.div(size);
  const counts = Array.from({ length: n }, (_, i) => Math.min(size, s - i * size));
  return sums.div(tf.tensor(counts, [1, 1, n, 1]));
}

/**
 * Runs a routing computation off the gradient tape: the result (indices or masks) depends on `inputs`,
 * but no gradient flows back through it, as in BiFormer (`diff_routing=False`) and MoBA. Ops inside a
 * customGrad forward are not recorded, so TF.js never looks for a TopK gradient.
 */
export function detached(inputs: tf.Tensor[], fn: (...xs: tf.Tensor[]) => tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = args.slice(0, inputs.length) as tf.Tensor[];
    // Shapes only: the inputs may be disposed by the time the gradient runs.
    const shapes = xs.map((x) => ({ shape: x.shape, dtype: x.dtype }));
    return { value: fn(...xs), gradFunc: () => shapes.map((x) => tf.zeros(x.shape)) };
  });
  return op(...inputs);
}

/**
 * Rows of `x: [n, f]` at `indices: [m]` (int32, all in range) → `[m, f]`. The gradient scatter-adds
 * into the rows (duplicates summed) with scatterND, which cpu, wasm and webgpu all have.
 */
export function gatherRows(x: tf.Tensor2D, indices: tf.Tensor1D): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [rows, idx, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    save([idx]);
    const shape = rows.shape;
    return {
      // gatherND copies whole rows: on wasm ~15× faster than GatherV2, which works element by element.
      value: tf.gatherND(rows, idx.expandDims(1)),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const kept = saved[0]!;
        return [tf.scatterND(kept.expandDims(1), dy as tf.Tensor, shape), tf.zeros(kept.shape)];
      },
    };
  });
  return op(x, indices) as tf.Tensor2D;
}

/** Offsets `[b, h, 1, ..., 1]`-shaped so that `index + offset` addresses rows of a `[b·h·n, ...]` view. */
export function flatIndex(indices: tf.Tensor, batch: number, heads: number, n: number): tf.Tensor1D {
  const extra = indices.rank - 2;
  const base = tf.range(0, batch * heads * n, n, "int32").reshape([batch, heads, ...new Array<number>(extra).fill(1)]);
  // Empty slots (−1) read row 0 of their (b, h); callers mask them out.
  return tf.maximum(indices, tf.scalar(0, "int32")).add(base).reshape([-1]) as tf.Tensor1D;
}

/** Sorts int32 indices ascending along the last axis, keeping −1 padding at the end. */
export function sortAscending(indices: tf.Tensor, limit: number): tf.Tensor {
  const k = indices.shape[indices.rank - 1]!;
  if (k === 0) return indices.clone();
  const key = tf.where(tf.less(indices, 0), tf.scalar(limit, "int32"), indices).cast("float32").neg();
  const sorted = tf.topk(key, k, true).values.neg().cast("int32");
  return tf.where(tf.greaterEqual(sorted, limit), tf.scalar(-1, "int32"), sorted);
}

/** Pads the last axis of an int32 index tensor with −1 up to `width`. */
export function padIndices(indices: tf.Tensor, width: number): tf.Tensor {
  const k = indices.shape[indices.rank - 1]!;
  if (k >= width) return indices;
  const pad = indices.shape.map((): [number, number] => [0, 0]);
  pad[pad.length - 1] = [0, width - k];
  return tf.pad(indices, pad, -1);
}
