// Decay powers and triangular grids shared by the parallel and chunked forms of the causal engine.
import * as tf from "@tensorflow/tfjs";

// λ^{e} for an exponent grid: exp(log λ_i · e), shaped [logDecay.size, ...grid]. Exponents come from integer
// index differences, never from differences of long cumulative sums, so long sequences lose no precision.
export function decayPower(logDecay: tf.Tensor, exponents: tf.Tensor): tf.Tensor {
  const n = logDecay.shape[0]!;
  return tf.exp(logDecay.reshape([n, ...exponents.shape.map(() => 1)]).mul(exponents.expandDims(0)));
}

/** [n, n] lower-triangular (incl. diagonal) 0/1 mask and the matching t − s exponents (0 above). */
export function lowerGrid(n: number): { mask: tf.Tensor2D; diff: tf.Tensor2D } {
  const mask = new Float32Array(n * n);
  const diff = new Float32Array(n * n);
  for (let t = 0; t < n; t++) {
    for (let s = 0; s <= t; s++) {
      mask[t * n + s] = 1;
      diff[t * n + s] = t - s;
    }
  }
  return { mask: tf.tensor2d(mask, [n, n]), diff: tf.tensor2d(diff, [n, n]) };
}

/** `count` values from `from` in steps of `step`, float32. */
export const range = (from: number, count: number, step = 1): tf.Tensor1D => tf.range(from, from + step * count, step, "float32").slice(0, count) as tf.Tensor1D;
