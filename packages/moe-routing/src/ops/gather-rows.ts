// Row gather with a gradient that TF.js's own lacks: GatherV2's gradient hands back the int32 indices
// as their "gradient", which the tape rejects whenever the indices depend on trainable inputs (routing
// indices always do). Here the indices get a zero float gradient; rows get the usual scatter-add.
import * as tf from "@tensorflow/tfjs";

const gather = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, indices, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([indices]);
  const rows = x.shape[0]!;
  return {
    value: tf.gather(x, indices),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.unsortedSegmentSum(dy, saved[0]! as tf.Tensor1D, rows), tf.zeros(saved[0]!.shape, "float32")],
  };
});

/** `x[indices]` along axis 0 for 1-D int32 `indices`; differentiable in `x`. */
export function gatherRows(x: tf.Tensor, indices: tf.Tensor): tf.Tensor {
  return gather(x, indices);
}
