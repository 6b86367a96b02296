// STILL's NP-Map feature map (official `StillHedgehogFeatureMap`): a norm-preserving map to 2F positive
// features. φ(x) = clamp([softmax(u), softmax(−u)], clampMin) with u = f(x)/max(‖f(x)‖, eps)·‖x‖ and
// f = per-head linear map after a per-head Householder reflection (the code's order: mlp(hh(x))).
import * as tf from "@tensorflow/tfjs";
import { ShapeError, assertKnownOptions, assertNumber, assertRank, assertFloat, shapeString, batchMatMul } from "@attnkit/core";

export interface NpMapOptions {
  /** Per-head linear map `[h, dim, f]` (y = x·W[h]); absent = identity (f = dim). */
  weight?: tf.Tensor;
  /** Per-head Householder vector `[h, dim]`, applied before `weight`; absent = no reflection. */
  householder?: tf.Tensor;
  /** Floor of ‖f(x)‖ (default 1e-12). */
  eps?: number;
  /** Lower clamp of the features (default 1e-12). */
  clampMin?: number;
  /** Floor of the Householder vector's norm (default 1e-6). */
  householderEps?: number;
}

const NAME = "npMap";

/** NP-Map features `[b, h, seq, 2f]` of `x: [b, h, seq, dim]`. */
export function npMap(x: tf.Tensor, options: NpMapOptions = {}): tf.Tensor4D {
  assertKnownOptions(NAME, options, ["weight", "householder", "eps", "clampMin", "householderEps"]);
  assertRank(NAME, "x", x, 4);
  assertFloat(NAME, "x", x);
  const [, heads, , dim] = x.shape as [number, number, number, number];
  const { weight, householder } = options;
  const eps = options.eps ?? 1e-12;
  const clampMin = options.clampMin ?? 1e-12;
  const householderEps = options.householderEps ?? 1e-6;
  assertNumber(NAME, "eps", eps, { min: 0, minExclusive: true });
  assertNumber(NAME, "clampMin", clampMin, { min: 0 });
  assertNumber(NAME, "householderEps", householderEps, { min: 0, minExclusive: true });
  if (weight !== undefined) {
    assertRank(NAME, "weight", weight, 3);
    if (weight.shape[0] !== heads || weight.shape[1] !== dim || weight.shape[2] === 0) {
      throw new ShapeError(`${NAME}: weight must have shape [${heads}, ${dim}, f] with f > 0, got ${shapeString(weight.shape)}`);
    }
  }
  if (householder !== undefined) {
    assertRank(NAME, "householder", householder, 2);
    if (householder.shape[0] !== heads || householder.shape[1] !== dim) {
      throw new ShapeError(`${NAME}: householder must have shape [${heads}, ${dim}], got ${shapeString(householder.shape)}`);
    }
  }
  return tf.tidy(() => {
    const r = x.square().sum(-1, true).sqrt();
    let y: tf.Tensor = x;
    if (householder) {
      const u = householder.div(tf.maximum(householder.square().sum(-1, true).sqrt(), householderEps)).reshape([1, heads, 1, dim]);
      y = y.sub(y.mul(u).sum(-1, true).mul(u).mul(2));
    }
    if (weight) {
      // [b, h, s, d] → [h, b·s, d] so each head meets its own matrix in one batched product.
      const [b, , s] = x.shape as [number, number, number, number];
      const f = weight.shape[2]!;
      const rows = y.transpose([1, 0, 2, 3]).reshape([heads, b * s, dim]);
      y = batchMatMul(rows, weight).reshape([heads, b, s, f]).transpose([1, 0, 2, 3]);
    }
    const u = y.div(tf.maximum(y.square().sum(-1, true).sqrt(), eps)).mul(r);
    const phi = tf.concat([tf.softmax(u), tf.softmax(u.neg())], -1);
    return tf.maximum(phi, clampMin) as tf.Tensor4D;
  });
}
