// Argument checks shared by the three attention ops of this package.
import * as tf from "@tensorflow/tfjs";
import { OptionError, assertBoolean, assertBroadcastable, assertTensor, resolveScale, type AttentionDims } from "@attnkit/core";

export interface CommonAttentionOptions {
  causal?: boolean;
  scale?: number | null;
  returnWeights?: boolean;
}

export interface CommonResolved {
  causal: boolean;
  scale: number;
  returnWeights: boolean;
}

export function resolveCommon(fn: string, options: CommonAttentionOptions, dims: AttentionDims): CommonResolved {
  if (options.causal !== undefined) assertBoolean(fn, "causal", options.causal);
  if (options.returnWeights !== undefined) assertBoolean(fn, "returnWeights", options.returnWeights);
  return {
    causal: options.causal === true,
    scale: resolveScale(fn, options.scale, dims.dim ** -0.5),
    returnWeights: options.returnWeights === true,
  };
}

/** Checks an optional additive bias (broadcastable to `[b, h, sq, sk]`) and returns it at rank 4. */
export function checkBias(fn: string, bias: unknown, dims: AttentionDims): tf.Tensor4D | null {
  if (bias === undefined || bias === null) return null;
  assertTensor(fn, "bias", bias);
  if (bias.dtype !== "float32") throw new OptionError(`${fn}: bias must be float32, got ${bias.dtype}`);
  assertBroadcastable(fn, "bias", bias, [dims.batch, dims.heads, dims.seqQ, dims.seqK]);
  return (bias.rank === 4 ? bias : bias.reshape([...new Array<number>(4 - bias.rank).fill(1), ...bias.shape])) as tf.Tensor4D;
}
