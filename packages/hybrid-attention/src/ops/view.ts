// tf.reshape without the tape's copy. TF.js saves a Reshape's input for its gradient (only to read its
// shape), and on wasm saving means cloning, i.e. copying the whole tensor: under tf.grads every reshape of
// a sequence-sized tensor in chunk mode cost a full copy. This one keeps the shape in the closure instead.
import * as tf from "@tensorflow/tfjs";

/** `x` reshaped to `shape`, with a gradient that reshapes back and saves nothing. */
export function view(x: tf.Tensor, shape: number[]): tf.Tensor {
  const from = x.shape;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: (args[0] as tf.Tensor).reshape(shape),
    gradFunc: (dy: tf.Tensor) => dy.reshape(from),
  }));
  return op(x);
}
