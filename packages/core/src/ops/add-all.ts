// tf.addN for any number of tensors on every backend. TF.js 4.22's WebGPU AddN binds one storage buffer
// per input, and a shader past the device's per-stage limit (8 on many adapters) fails validation and
// yields garbage; seven inputs or fewer per AddN stay within every adapter's limit.
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors";

const MAX_INPUTS = 7;

/** Elementwise sum of same-shaped tensors, as tf.addN, in groups small enough for every backend. */
export function addAll(xs: tf.Tensor[]): tf.Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new ShapeError("addAll: xs must be a non-empty array of tensors");
  return tf.tidy(() => {
    let parts = xs;
    while (parts.length > 1) {
      const next: tf.Tensor[] = [];
      for (let i = 0; i < parts.length; i += MAX_INPUTS) {
        const group = parts.slice(i, i + MAX_INPUTS);
        next.push(group.length === 1 ? group[0]! : tf.addN(group));
      }
      parts = next;
    }
    return parts[0]!.clone();
  });
}
