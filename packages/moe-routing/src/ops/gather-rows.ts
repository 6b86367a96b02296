// Row gather whose gradient is again a gather. TF.js's own GatherV2 gradient needs UnsortedSegmentSum,
// which the wasm backend does not register in 4.22, and hands back int32 indices as a "gradient",
// which the tape rejects whenever indices depend on trainable inputs (routing indices always do).
// A dispatch is a bijection between kept assignments and expert slots, so the caller knows the inverse
// map and the backward pass is a gather too: fast, and the same on every backend.
import * as tf from "@tensorflow/tfjs";

const gather = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, index, inverse, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([index, inverse]);
  return {
    value: tf.gather(x, index),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [idx, inv] = saved as [tf.Tensor, tf.Tensor];
      const [rows, fanIn] = inv.shape as [number, number];
      const padded = tf.concat([dy, tf.zeros([1, dy.shape[1]!])]);
      const dx = tf.gather(padded, inv.reshape([-1])).reshape([rows, fanIn, dy.shape[1]!]).sum(1);
      return [dx, tf.zeros(idx.shape, "float32"), tf.zeros(inv.shape, "float32")];
    },
  };
});

/**
 * `x[index]` for `x: [R, d]` and int32 `index: [M]`, differentiable in `x`. `inverse: [R, s]` int32
 * lists, for each row of x, the positions in `index` that read it (M where fewer than s do); it must
 * be exact, or the gradient is wrong.
 */
export function gatherRows(x: tf.Tensor, index: tf.Tensor, inverse: tf.Tensor): tf.Tensor {
  return gather(x, index, inverse);
}
