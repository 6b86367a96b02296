// Row selection that is cheap on every backend. On TF.js wasm, `slice` first copies its whole input
// (readSync), so taking 256 rows of a [4, 16640, 64] tensor costs a full copy, and `gather` (GatherV2)
// runs per element; `gatherND` copies whole slices and `pad` is a native copy. These helpers pick the
// fast kernel and supply gradients that wasm supports (TF.js's gather gradient needs UnsortedSegmentSum,
// which wasm lacks).
import * as tf from "@tensorflow/tfjs";
import { batchMatMul } from "@attnkit/core";

const onWasm = () => tf.getBackend() === "wasm";

/** Rows `[start, start + size)` of axis 2 of `x: [b, h, t, d]`. */
export function takeRange(x: tf.Tensor, start: number, size: number): tf.Tensor {
  const t = x.shape[2]!;
  if (start === 0 && size === t) return x;
  if (!onWasm()) return x.slice([0, 0, start, 0], [-1, -1, size, -1]);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    return {
      value: tf.gather(input, tf.range(start, start + size, 1, "int32"), 2),
      gradFunc: (dy: tf.Tensor) => dy.pad([[0, 0], [0, 0], [start, t - start - size], [0, 0]]),
    };
  });
  return op(x);
}

/** Rows at `positions` (host integers) of axis 2 of `x: [b, h, t, d]` → `[b, h, positions.length, d]`. */
export function takeRows(x: tf.Tensor, positions: number[]): tf.Tensor {
  const [b, h, t, d] = x.shape as [number, number, number, number];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    return {
      value: tf.gather(input, tf.tensor1d(positions, "int32"), 2),
      gradFunc: (dy: tf.Tensor) => {
        // dx = Pᵀ·dy with the one-hot selection P [rows, t]: (dyᵀ·P)ᵀ per (batch, head).
        const p = tf.oneHot(tf.tensor1d(positions, "int32"), t).cast("float32");
        return batchMatMul(dy.reshape([b * h, positions.length, d]), p, true, false).transpose([0, 2, 1]).reshape([b, h, t, d]);
      },
    };
  });
  return op(x);
}

/**
 * Whole blocks of n rows: `x: [g, nb, f]` (a free reshape of `[b, h, nb·n, d]`), `index: [g, N]` int32
 * block ids (a constant) → `[g, N, f]`, through gatherND (slice copies). The gradient is a one-hot product.
 */
export function gatherBlocks(blocks: tf.Tensor, index: tf.Tensor): tf.Tensor {
  const [G, nb, F] = blocks.shape as [number, number, number];
  const N = index.shape[1]!;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([index]); // the closure's index is disposed with the forward scope; the tape keeps a copy
    const flatIndex = index.cast("int32").add(tf.range(0, G * nb, nb, "int32").reshape([G, 1])).reshape([G * N, 1]);
    return {
      value: tf.gatherND(x.reshape([G * nb, F]), flatIndex).reshape([G, N, F]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => batchMatMul(tf.oneHot(saved[0]!, nb).cast("float32"), dy, true, false),
    };
  });
  return op(blocks);
}
