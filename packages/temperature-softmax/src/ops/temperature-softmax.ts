// softmax(logits / τ) along one axis.
import * as tf from "@tensorflow/tfjs";
import { OptionError, assertInteger, assertKnownOptions, assertTensor, shapeString } from "@attnkit/core";

export interface TemperatureSoftmaxOptions {
  /** τ > 0; τ < 1 sharpens, τ > 1 flattens. A scalar tensor (e.g. a trained τ) is accepted as well. */
  temperature: number | tf.Tensor;
  /** Axis of the softmax (default −1). */
  axis?: number;
}

const NAME = "temperatureSoftmax";
const KEYS = ["temperature", "axis"] as const;
const MASKED = -1e30;

/**
 * softmax(logits / τ) along `axis`. −Infinity logits count as masked; a slice with every entry masked
 * gives zeros instead of NaN. Differentiable with respect to the logits (and a tensor τ).
 */
export function temperatureSoftmax(logits: tf.Tensor, options: TemperatureSoftmaxOptions): tf.Tensor {
  assertTensor(NAME, "logits", logits);
  if (logits.dtype !== "float32") throw new OptionError(`${NAME}: logits must be float32, got ${logits.dtype}`);
  if (options === undefined || options === null) throw new OptionError(`${NAME}: options.temperature is required`);
  assertKnownOptions(NAME, options, KEYS);
  if (logits.rank === 0) throw new OptionError(`${NAME}: logits must have rank ≥ 1, got shape ${shapeString(logits.shape)}`);
  const axis = options.axis ?? -1;
  assertInteger(NAME, "axis", axis, { min: -logits.rank, max: logits.rank - 1 });
  const ax = axis < 0 ? axis + logits.rank : axis;
  const tau = options.temperature;
  if (tau instanceof tf.Tensor) {
    if (tau.isDisposed || tau.size !== 1 || tau.dtype !== "float32") {
      throw new OptionError(`${NAME}: temperature must be a number > 0 or a float32 scalar tensor, got a ${tau.dtype} tensor of shape ${shapeString(tau.shape)}`);
    }
  } else if (typeof tau !== "number" || !Number.isFinite(tau) || tau <= 0) {
    throw new OptionError(`${NAME}: temperature must be a finite number > 0, got ${String(tau)}`);
  }
  return tf.tidy(() => {
    // TF.js's softmax works on the last axis only: move `axis` there and back.
    const last = logits.rank - 1;
    const perm = [...Array(logits.rank).keys()];
    perm[ax] = last;
    perm[last] = ax;
    const x = ax === last ? logits : logits.transpose(perm);
    // −∞ becomes a large finite number so that a tensor τ gets a finite gradient (−∞/τ² · 0 is NaN).
    const safe = tf.maximum(x, MASKED);
    // 1 where the slice has a finite entry. tf.step has a (zero) gradient; tf.equal has none.
    const seen = tf.step(safe.max(-1, true).sub(MASKED / 2));
    const scaled = tau instanceof tf.Tensor ? safe.div(tau.reshape([])) : safe.div(tau);
    const p = tf.softmax(scaled).mul(seen);
    return ax === last ? p : p.transpose(perm);
  });
}
