import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors";
import { assertKnownOptions, assertNumber, assertRank, assertTensor, shapeString } from "../validate";

export interface RmsNormOptions {
  /** Gain `[dim]`, multiplied after normalising. */
  weight?: tf.Tensor;
  /** Default 1e-6. */
  eps?: number;
}

/** x · rsqrt(mean(x², −1) + eps) · weight over the last axis. */
export function rmsNorm(x: tf.Tensor, options: RmsNormOptions = {}): tf.Tensor {
  const fn = "rmsNorm";
  assertKnownOptions(fn, options, ["weight", "eps"]);
  assertRank(fn, "x", x, [1, 2, 3, 4, 5, 6]);
  const eps = options.eps ?? 1e-6;
  assertNumber(fn, "eps", eps, { min: 0, minExclusive: true });
  const { weight } = options;
  if (weight !== undefined) {
    assertTensor(fn, "weight", weight);
    const dim = x.shape[x.rank - 1]!;
    if (weight.rank !== 1 || weight.shape[0] !== dim) throw new ShapeError(`${fn}: weight must have shape [${dim}], got ${shapeString(weight.shape)}`);
  }
  return tf.tidy(() => {
    const y = x.mul(tf.rsqrt(x.square().mean(-1, true).add(eps)));
    return weight ? y.mul(weight) : y;
  });
}

export interface L2NormalizeOptions {
  /** Default 1e-6 (the Gated DeltaNet kernels' value). */
  eps?: number;
}

/** x / sqrt(sum(x², −1) + eps) over the last axis. */
export function l2Normalize(x: tf.Tensor, options: L2NormalizeOptions = {}): tf.Tensor {
  const fn = "l2Normalize";
  assertKnownOptions(fn, options, ["eps"]);
  assertRank(fn, "x", x, [1, 2, 3, 4, 5, 6]);
  const eps = options.eps ?? 1e-6;
  assertNumber(fn, "eps", eps, { min: 0, minExclusive: true });
  return tf.tidy(() => x.mul(tf.rsqrt(x.square().sum(-1, true).add(eps))));
}
