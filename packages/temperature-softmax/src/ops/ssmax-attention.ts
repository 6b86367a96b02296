// Scalable-Softmax (SSMax, Nakanishi 2025): softmax((s·log n + b)·z)·v with z = scale·q·kᵀ and n the
// number of keys the query may attend to.
//
// The factor (s·log n + b) depends only on the query row, so it is folded into q: (c_i·q_i)·k_j = c_i·z_ij.
// The work is then core's fast attention plus one element-wise product on q.
import * as tf from "@tensorflow/tfjs";
import { assertKnownOptions, assertNumber, checkAttentionInputs, OptionError, scaledDotProductAttention, type AttentionWithWeights } from "@attnkit/core";
import { resolveCommon } from "./common";
import { keyCounts, keyMaskFloat } from "./key-counts";
import { perHeadValue, type PerHead } from "./per-head";

export interface SsmaxAttentionOptions {
  /** s: one value, one per head, or a tensor `[]`/`[heads]` (a learned s; gradients flow to it). */
  s: PerHead;
  /** Additive b in (s·log n + b); default 0. */
  b?: number;
  /** Query i sees keys up to i + seqK − seqQ; n counts them. */
  causal?: boolean;
  /** `[b, seqK]`, 1/true = keep; masked keys are not counted in n. */
  keyMask?: tf.Tensor;
  /** Multiplies q·kᵀ in z; default dim^−0.5. */
  scale?: number | null;
  returnWeights?: boolean;
}

const NAME = "ssmaxAttention";
const KEYS = ["s", "b", "causal", "keyMask", "scale", "returnWeights"] as const;

/**
 * softmax((s·log n + b)·scale·q·kᵀ)·v, `q, k: [b, h, s, d]`, `v: [b, h, sk, dv]` → `[b, h, sq, dv]`.
 * s = 0 (b = 0) averages the visible values; s = 1/log n gives plain softmax attention.
 */
export function ssmaxAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: SsmaxAttentionOptions & { returnWeights?: false }): tf.Tensor4D;
export function ssmaxAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: SsmaxAttentionOptions & { returnWeights: true }): AttentionWithWeights;
export function ssmaxAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: SsmaxAttentionOptions): tf.Tensor4D | AttentionWithWeights;
export function ssmaxAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: SsmaxAttentionOptions): tf.Tensor4D | AttentionWithWeights {
  if (options === undefined || options === null) throw new OptionError(`${NAME}: options.s is required`);
  assertKnownOptions(NAME, options, KEYS);
  const dims = checkAttentionInputs(NAME, q, k, v);
  const { causal, scale, returnWeights } = resolveCommon(NAME, options, dims);
  if (options.s === undefined) throw new OptionError(`${NAME}: s is required`);
  const b = options.b ?? 0;
  assertNumber(NAME, "b", b);
  return tf.tidy(() => {
    const s = perHeadValue(NAME, "s", options.s, dims.heads);
    const keep = keyMaskFloat(NAME, options.keyMask, dims);
    // n = 0 only for a query with no visible key; core returns zeros there, log 1 keeps the factor finite.
    const logN = tf.log(tf.maximum(keyCounts(dims, causal, keep), 1));
    const factor = logN.mul(s).add(b);
    const mask = keep ? keep.reshape([dims.batch, 1, 1, dims.seqK]) : undefined;
    // The { output, weights } object is a TensorContainer; core's type does not say so.
    return scaledDotProductAttention(q.mul(factor), k, v, { causal, scale, returnWeights, ...(mask ? { mask } : {}) }) as unknown as tf.TensorContainer;
  }) as unknown as tf.Tensor4D | AttentionWithWeights;
}
