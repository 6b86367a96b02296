// Contiguous rows of a batch of matrices without tf.slice: TF.js 4.22's wasm Slice first copies its whole
// input to the host (measured 105 ms for one row block out of a [1, 4, 8192, 64] tensor), which made chunk
// mode superlinear in the sequence length. gatherND copies only the rows it returns; it has no registered
// gradient, so the backward pass (zero padding around the rows) is written here.
import * as tf from "@tensorflow/tfjs";

/** Rows `from … from + count − 1` of every matrix of `x` [r, n, d], as [r, count, d]. */
export function takeRows(x: tf.Tensor, from: number, count: number): tf.Tensor {
  const [r, n] = x.shape as number[];
  if (from === 0 && count === n) return x;
  const take = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const pairs = new Int32Array(r! * count * 2); // (matrix, row) per gathered row
    for (let m = 0, i = 0; m < r!; m++) {
      for (let row = from; row < from + count; row++, i += 2) {
        pairs[i] = m;
        pairs[i + 1] = row;
      }
    }
    const indices = tf.tensor3d(pairs, [r!, count, 2], "int32");
    const value = tf.gatherND(input, indices);
    indices.dispose();
    return { value, gradFunc: (dy: tf.Tensor) => dy.pad([[0, 0], [from, n! - from - count], [0, 0]]) };
  });
  return take(x);
}
