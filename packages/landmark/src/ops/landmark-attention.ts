// Training-time landmark attention (grouped softmax) on a sequence whose landmarks sit in the standard
// layout (a landmark closes every block of `blockSize` regular tokens). Landmarks gate their block and
// carry no value; the query's own landmark is masked.
import * as tf from "@tensorflow/tfjs";
import {
  ShapeError,
  applyRotary,
  assertBoolean,
  assertInteger,
  assertKnownOptions,
  assertNumber,
  checkAttentionInputs,
  resolveScale,
  shapeString,
  type AttentionDims,
} from "@attnkit/core";
import { groupedAttention } from "./grouped-kernel";
import { weightsToKeys } from "./layout";

export interface LandmarkAttentionOptions {
  /** Regular tokens per block; position p is a landmark iff p % (blockSize + 1) == blockSize. */
  blockSize: number;
  /** Multiplies q·kᵀ; default dim^−0.5. */
  scale?: number | null;
  /** Apply RoPE (half-split pairs, the LLaMA convention) with this base at plain positions 0..T−1. */
  ropeBase?: number | null;
  /** Also return the weights `[b, h, seqQ, seqK]` (0 on every landmark). */
  returnWeights?: boolean;
}

export interface LandmarkAttentionWithWeights {
  output: tf.Tensor4D;
  weights: tf.Tensor4D;
}

const NAME = "landmarkAttention";

/** Checks the options shared by the landmark attention ops; returns blockSize, scale and ropeBase. */
export function landmarkCommon(fn: string, dims: AttentionDims, options: { blockSize?: unknown; scale?: number | null; ropeBase?: number | null }): {
  blockSize: number;
  scale: number;
  ropeBase: number | null;
} {
  if (!options || typeof options !== "object") throw new ShapeError(`${fn}: options must be an object with blockSize, got ${String(options)}`);
  assertInteger(fn, "blockSize", options.blockSize, { min: 1 });
  const scale = resolveScale(fn, options.scale, dims.dim ** -0.5);
  let ropeBase: number | null = null;
  if (options.ropeBase !== undefined && options.ropeBase !== null) {
    assertNumber(fn, "ropeBase", options.ropeBase, { min: 0, minExclusive: true });
    if (dims.dim % 2 !== 0) throw new ShapeError(`${fn}: q and k must have an even last dimension when ropeBase is set, got dim ${dims.dim}`);
    ropeBase = options.ropeBase;
  }
  return { blockSize: options.blockSize, scale, ropeBase };
}

/** `[b, h, s, d]` → `[b·h, s, d]`. */
export const flat = (x: tf.Tensor): tf.Tensor3D => x.reshape([-1, x.shape[2]!, x.shape[3]!]) as tf.Tensor3D;

/**
 * Grouped landmark attention of queries aligned to the end of the keys (with seqQ = seqK, plain
 * self-attention). `q, k: [b, h, s, d]`, `v: [b, h, s, dv]` → `[b, h, seqQ, dv]`. Differentiable with
 * respect to q, k and v.
 */
export function landmarkAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LandmarkAttentionOptions & { returnWeights?: false }): tf.Tensor4D;
export function landmarkAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LandmarkAttentionOptions & { returnWeights: true }): LandmarkAttentionWithWeights;
export function landmarkAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LandmarkAttentionOptions): tf.Tensor4D | LandmarkAttentionWithWeights;
export function landmarkAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LandmarkAttentionOptions): tf.Tensor4D | LandmarkAttentionWithWeights {
  assertKnownOptions(NAME, options, ["blockSize", "scale", "ropeBase", "returnWeights"]);
  const dims = checkAttentionInputs(NAME, q, k, v);
  const { blockSize, scale, ropeBase } = landmarkCommon(NAME, dims, options);
  if (options.returnWeights !== undefined) assertBoolean(NAME, "returnWeights", options.returnWeights);
  if (dims.seqQ > dims.seqK) {
    throw new ShapeError(`${NAME}: q must have at most as many positions as k (queries are the last keys), got q ${shapeString(q.shape)} and k ${shapeString(k.shape)}`);
  }
  const { batch, heads, seqQ, seqK } = dims;
  const offset = seqK - seqQ;
  return tf.tidy(() => {
    let qs = q.mul(scale);
    let ks = k;
    if (ropeBase !== null) {
      qs = applyRotary(qs, { base: ropeBase, positions: Array.from({ length: seqQ }, (_, i) => offset + i) });
      ks = applyRotary(k, { base: ropeBase });
    }
    const { output: out, weights: regular } = groupedAttention(qs, ks, v, blockSize, offset, options.returnWeights === true);
    const output = out as tf.Tensor4D;
    if (!options.returnWeights) return output;
    const nb = Math.ceil(seqK / (blockSize + 1));
    const w = weightsToKeys(regular!, nb, blockSize, seqK).reshape([batch, heads, seqQ, seqK]) as tf.Tensor4D;
    return { output, weights: w } as unknown as tf.Tensor4D;
  }) as tf.Tensor4D | LandmarkAttentionWithWeights;
}
