// Log-n attention scaling (Qwen-1 `use_logn_attn`): the logits of a query that sees n keys are multiplied
// by max(1, log n / log trainLength), so attention does not flatten beyond the training length.
//
// Qwen's ports index `logn_list` by the query's 1-based position, which for causal self-attention is the
// number of keys it sees; we use that count (n as in ssmaxAttention), so the result equals SSMax with
// s = 1/log trainLength once n ≥ trainLength. Like SSMax, the per-query factor is folded into q.
import * as tf from "@tensorflow/tfjs";
import { assertInteger, assertKnownOptions, checkAttentionInputs, OptionError, scaledDotProductAttention, type AttentionWithWeights } from "@attnkit/core";
import { resolveCommon } from "./common";
import { keyCounts, keyMaskFloat } from "./key-counts";

export interface LogNScaledAttentionOptions {
  /** The training context length L (≥ 2); queries that see n ≤ L keys are not rescaled. */
  trainLength: number;
  /** Query i sees keys up to i + seqK − seqQ. */
  causal?: boolean;
  /** `[b, seqK]`, 1/true = keep; masked keys are not counted in n. (Addition to SPEC.) */
  keyMask?: tf.Tensor;
  /** Multiplies q·kᵀ; default dim^−0.5. */
  scale?: number | null;
  returnWeights?: boolean;
}

const NAME = "logNScaledAttention";
const KEYS = ["trainLength", "causal", "keyMask", "scale", "returnWeights"] as const;

/** softmax(max(1, log n / log L)·scale·q·kᵀ)·v → `[b, h, sq, dv]` (`{ output, weights }` with `returnWeights`). */
export function logNScaledAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LogNScaledAttentionOptions & { returnWeights?: false }): tf.Tensor4D;
export function logNScaledAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LogNScaledAttentionOptions & { returnWeights: true }): AttentionWithWeights;
export function logNScaledAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LogNScaledAttentionOptions): tf.Tensor4D | AttentionWithWeights;
export function logNScaledAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LogNScaledAttentionOptions): tf.Tensor4D | AttentionWithWeights {
  if (options === undefined || options === null) throw new OptionError(`${NAME}: options.trainLength is required`);
  assertKnownOptions(NAME, options, KEYS);
  const dims = checkAttentionInputs(NAME, q, k, v);
  const { causal, scale, returnWeights } = resolveCommon(NAME, options, dims);
  assertInteger(NAME, "trainLength", options.trainLength, { min: 2 });
  const logL = Math.log(options.trainLength);
  return tf.tidy(() => {
    const keep = keyMaskFloat(NAME, options.keyMask, dims);
    const counts = keyCounts(dims, causal, keep);
    const factor = tf.maximum(tf.log(tf.maximum(counts, 1)).div(logL), 1);
    const mask = keep ? keep.reshape([dims.batch, 1, 1, dims.seqK]) : undefined;
    // The { output, weights } object is a TensorContainer; core's type does not say so.
    return scaledDotProductAttention(q.mul(factor), k, v, { causal, scale, returnWeights, ...(mask ? { mask } : {}) }) as unknown as tf.TensorContainer;
  }) as unknown as tf.Tensor4D | AttentionWithWeights;
}
