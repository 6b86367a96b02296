// Routing statistics: entropy of the routing distribution and fluctuation between checkpoints.
import * as tf from "@tensorflow/tfjs";
import { ShapeError, assertFloat, assertRank, shapeString } from "@attnkit/core";

/** Mean over tokens of the entropy (nats) of each routing distribution `probs: [..., E]`; zero rows count 0. */
export function routingEntropy(probs: tf.Tensor): tf.Scalar {
  const fn = "routingEntropy";
  assertRank(fn, "probs", probs, [1, 2, 3]);
  assertFloat(fn, "probs", probs);
  return tf.tidy(() => {
    // p·log p → 0 at p = 0; the floor only keeps log finite there.
    const h = probs.mul(tf.log(tf.maximum(probs, 1e-30))).sum(-1).neg();
    return h.mean() as tf.Scalar;
  });
}

export interface RoutingFluctuation {
  /** Fraction of tokens whose top-1 expert changed. */
  top1: number;
  /** Fraction of tokens whose set of chosen experts changed. */
  set: number;
}

/**
 * Routing fluctuation (StableMoE) between two checkpoints' routings of the same tokens, `indices: [..., k]`
 * int32 (column 0 is the top-1 expert). Async: routing decisions are data, read back from the device
 * (WebGPU has no synchronous read).
 */
export async function routingFluctuation(indicesA: tf.Tensor, indicesB: tf.Tensor): Promise<RoutingFluctuation> {
  const fn = "routingFluctuation";
  assertRank(fn, "indicesA", indicesA, [1, 2, 3]);
  assertRank(fn, "indicesB", indicesB, [1, 2, 3]);
  if (indicesA.shape.length !== indicesB.shape.length || indicesA.shape.some((d, i) => d !== indicesB.shape[i])) {
    throw new ShapeError(`${fn}: indicesB must have the shape of indicesA ${shapeString(indicesA.shape)}, got ${shapeString(indicesB.shape)}`);
  }
  const k = indicesA.rank === 1 ? 1 : indicesA.shape[indicesA.rank - 1]!;
  const [a, b] = await Promise.all([indicesA.data(), indicesB.data()]);
  const tokens = a.length / k;
  if (tokens === 0) return { top1: 0, set: 0 };
  let top1 = 0;
  let set = 0;
  for (let t = 0; t < tokens; t++) {
    const ra = Array.from(a.subarray(t * k, t * k + k)).sort((x, y) => x - y);
    const rb = Array.from(b.subarray(t * k, t * k + k)).sort((x, y) => x - y);
    if (a[t * k] !== b[t * k]) top1++;
    if (ra.some((v, i) => v !== rb[i])) set++;
  }
  return { top1: top1 / tokens, set: set / tokens };
}
