// Next-token cross-entropy on logits. Labels are token ids `[b, s]` (a negative id, Zoology's −100, is
// ignored), or one-hot targets `[b, s, vocab]` as `model.fit` needs them (it requires targets shaped like
// the output; `oneHotTargets` makes them). Mean over the labelled positions.
import * as tf from "@tensorflow/tfjs";
import { ShapeError, shapeString, withoutGradient } from "@attnkit/core";

export function lmLoss(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const vocab = logits.shape[logits.rank - 1]!;
    const flat = logits.reshape([-1, vocab]);
    // log-softmax with the row max held constant: the result does not depend on it, and the gradient of
    // max (an Equal against the broadcast max) is one of the slowest kernels on wasm.
    const shifted = flat.sub(withoutGradient((t) => t.max(-1, true), flat));
    const logp = shifted.sub(shifted.exp().sum(-1, true).log());
    let target: tf.Tensor;
    if (labels.rank === logits.rank) {
      target = labels.reshape([-1, vocab]);
    } else if (labels.rank === logits.rank - 1) {
      const ids = tf.cast(labels, "int32").reshape([-1]);
      target = tf.oneHot(tf.maximum(ids, tf.scalar(0, "int32")), vocab).mul(tf.cast(tf.greaterEqual(ids, 0), "float32").expandDims(1));
    } else {
      throw new ShapeError(`lmLoss: labels must be ids [batch, seq] or one-hot [batch, seq, vocab] for logits ${shapeString(logits.shape)}, got ${shapeString(labels.shape)}`);
    }
    const keep = target.sum(-1);
    const nll = target.mul(logp).sum(-1).neg();
    return nll.sum().div(tf.maximum(keep.sum(), 1)) as tf.Scalar;
  });
}

/** One-hot targets `[b, s, vocab]` of label ids `[b, s]` (negative ids give all-zero rows: ignored). */
export function oneHotTargets(labels: tf.Tensor | number[][], vocabSize: number): tf.Tensor {
  return tf.tidy(() => {
    const ids = labels instanceof tf.Tensor ? tf.cast(labels, "int32") : tf.tensor2d(labels, undefined, "int32");
    return tf.oneHot(tf.maximum(ids, tf.scalar(0, "int32")), vocabSize).mul(tf.cast(tf.greaterEqual(ids, 0), "float32").expandDims(-1));
  });
}
