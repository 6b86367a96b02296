// Argument checks and router logits shared by the three gates.
import * as tf from "@tensorflow/tfjs";
import { ShapeError, assertBoolean, assertFloat, assertInteger, assertRank, assertTensor, batchMatMul, shapeString } from "@attnkit/core";

export interface GateBase {
  /** Experts chosen per token (1 ≤ topK ≤ experts). */
  topK: number;
  /** Added to the router logits, `[experts]`. */
  bias?: tf.Tensor;
  /** Renormalise the chosen weights to sum to 1 (default true); false gives Switch-style raw probabilities. */
  renormalize?: boolean;
}

export interface GateDims {
  tokens: number;
  dModel: number;
  experts: number;
  topK: number;
  renormalize: boolean;
}

/** Checks `x: [tokens, d]` (or `[batch, tokens, d]`), `wGate: [d, experts]`, bias and topK. */
export function checkGateInputs(fn: string, x: unknown, wGate: unknown, options: GateBase): GateDims {
  assertRank(fn, "x", x, [2, 3]);
  assertFloat(fn, "x", x);
  assertRank(fn, "wGate", wGate, 2);
  assertFloat(fn, "wGate", wGate);
  const dModel = x.shape[x.rank - 1]!;
  const tokens = x.shape[x.rank - 2]!;
  const [d, experts] = wGate.shape as [number, number];
  if (d !== dModel) throw new ShapeError(`${fn}: wGate must have shape [${dModel}, experts] to match x ${shapeString(x.shape)}, got ${shapeString(wGate.shape)}`);
  if (experts < 1) throw new ShapeError(`${fn}: wGate must have at least one expert column, got ${shapeString(wGate.shape)}`);
  if (options === null || typeof options !== "object") throw new ShapeError(`${fn}: options with topK are required`);
  assertInteger(fn, "topK", options.topK, { min: 1, max: experts });
  const { bias } = options;
  if (bias !== undefined) {
    assertTensor(fn, "bias", bias);
    if (bias.rank !== 1 || bias.shape[0] !== experts) throw new ShapeError(`${fn}: bias must have shape [${experts}], got ${shapeString(bias.shape)}`);
  }
  const renormalize = options.renormalize ?? true;
  assertBoolean(fn, "renormalize", renormalize);
  return { tokens, dModel, experts, topK: options.topK, renormalize };
}

/** Router logits `x·wGate (+ bias)`: `[..., tokens, experts]`. */
export function routerLogits(x: tf.Tensor, wGate: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const logits = batchMatMul(x, wGate);
  return bias ? logits.add(bias) : logits;
}
