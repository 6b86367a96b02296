// Splitting a tensor along its leading axis on wasm. TF.js 4.22's wasm Slice reads its whole input for
// every slice (measured: one [64, 64] slice costs 0.07 ms out of [8, 64, 64] and 9.6 ms out of
// [256, 64, 64]), so tf.unstack is quadratic in the number of parts (3.2 s for 256). Gathering a row
// with gatherND costs only its output. Not differentiable on wasm (its gather gradient needs UnsortedSegmentSum):
// use it inside custom-gradient forward passes.
import * as tf from "@tensorflow/tfjs";

/** The `n = x.shape[0]` parts of `x` along its leading axis, each of shape `x.shape.slice(1)`. */
export function splitLeading(x: tf.Tensor): tf.Tensor[] {
  const n = x.shape[0]!;
  const rest = x.shape.slice(1);
  return tf.tidy(() => {
    if (n === 1) return [x.reshape(rest)];
    const rows = x.reshape([n, -1]);
    // gatherND copies a whole row at once; wasm's GatherV2 goes element by element (~30M floats/s).
    return Array.from({ length: n }, (_, i) => tf.gatherND(rows, [[i]]).reshape(rest));
  });
}
