// TF.js has no stopGradient, and its tape fails on any path through ops without a gradient (TopK,
// comparisons, int32 indices). Running such work inside a customGrad forward keeps it off the tape.
import * as tf from "@tensorflow/tfjs";

/**
 * `fn(...inputs)` as a constant to `tf.grads`: its ops are not recorded on the tape and every input
 * gets a zero gradient. Use it for routing decisions (top-k, argmax, masks built from scores) and for
 * numerical stabilisers that the result does not depend on (a softmax's row max).
 *
 * For int32 indices that later feed `tf.gather`, pass no inputs and close over the tensors instead
 * (`withoutGradient(() => topKIndices(scores, k))`): then nothing links the indices to the tape, which
 * TF.js's gather gradient needs (it fails on indices that lie on a path from a differentiated input).
 */
export function withoutGradient(fn: (...xs: tf.Tensor[]) => tf.Tensor, ...inputs: tf.Tensor[]): tf.Tensor {
  const args = inputs.length > 0 ? inputs : [tf.scalar(0)];
  const op = tf.customGrad((...all: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xs = all.slice(0, args.length) as tf.Tensor[];
    // TF.js wants float32 gradients even for int32 inputs (indices).
    return { value: fn(...(inputs.length > 0 ? xs : [])), gradFunc: () => xs.map((x) => tf.zeros(x.shape, "float32")) };
  });
  const out = op(...args);
  if (inputs.length === 0) args[0]!.dispose();
  return out;
}

/** `x` with a zero gradient. */
export function stopGradient(x: tf.Tensor): tf.Tensor {
  return withoutGradient((t) => t.clone(), x);
}
