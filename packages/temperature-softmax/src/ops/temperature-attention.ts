// TempScale: softmax((scale·q·kᵀ + bias) / τ)·v.
//
// τ divides the whole pre-softmax tensor, bias and mask included, as the official code does
// (Yuqi-Zhou/Length_Collapse, src/model.py). Masked entries stay masked. For speed τ is folded into the
// inputs of core's attention instead of scaling the [sq, sk] scores: a scalar τ into `scale` (free), a
// per-head τ into q (one element-wise product on [b, h, sq, d]); the bias is divided by τ too.
import * as tf from "@tensorflow/tfjs";
import { assertKnownOptions, checkAttentionInputs, OptionError, scaledDotProductAttention, type AttentionWithWeights } from "@attnkit/core";
import { checkBias, resolveCommon } from "./common";
import { divideBias } from "./divide-bias";
import { keyMaskFloat } from "./key-counts";
import { perHeadValue, type PerHead } from "./per-head";

export interface TemperatureAttentionOptions {
  /** τ > 0: one value, one per head, or a tensor `[]`/`[heads]` (a trained τ; gradients flow to it). */
  temperature: PerHead;
  /** Query i sees keys up to i + seqK − seqQ. */
  causal?: boolean;
  /** `[b, seqK]`, 1/true = keep. */
  keyMask?: tf.Tensor;
  /** Added to the scaled scores before the division by τ; broadcastable to `[b, h, sq, sk]`. */
  bias?: tf.Tensor;
  /** Multiplies q·kᵀ; default dim^−0.5 (pass 1 for T5-style models). */
  scale?: number | null;
  returnWeights?: boolean;
}

const NAME = "temperatureAttention";
const KEYS = ["temperature", "causal", "keyMask", "bias", "scale", "returnWeights"] as const;

/**
 * softmax((scale·q·kᵀ + bias)/τ)·v with `q, k: [b, h, s, d]`, `v: [b, h, sk, dv]` → `[b, h, sq, dv]`
 * (`{ output, weights }` with `returnWeights`). A query with no visible key gives zeros.
 */
export function temperatureAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: TemperatureAttentionOptions & { returnWeights?: false }): tf.Tensor4D;
export function temperatureAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: TemperatureAttentionOptions & { returnWeights: true }): AttentionWithWeights;
export function temperatureAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: TemperatureAttentionOptions): tf.Tensor4D | AttentionWithWeights;
export function temperatureAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: TemperatureAttentionOptions): tf.Tensor4D | AttentionWithWeights {
  if (options === undefined || options === null) throw new OptionError(`${NAME}: options.temperature is required`);
  assertKnownOptions(NAME, options, KEYS);
  const dims = checkAttentionInputs(NAME, q, k, v);
  const { causal, scale, returnWeights } = resolveCommon(NAME, options, dims);
  if (options.temperature === undefined) throw new OptionError(`${NAME}: temperature is required`);
  return tf.tidy(() => {
    const tau = perHeadValue(NAME, "temperature", options.temperature, dims.heads, { positive: true });
    let bias = checkBias(NAME, options.bias, dims);
    const keep = keyMaskFloat(NAME, options.keyMask, dims);
    const mask = keep ? keep.reshape([dims.batch, 1, 1, dims.seqK]) : undefined;
    let qs = q;
    let s = scale;
    if (typeof tau === "number") {
      s = scale / tau;
    } else {
      qs = q.div(tau);
    }
    // −∞ / τ is still −∞ (core treats it as masked); large negative masks stay large and negative.
    if (bias) bias = typeof tau === "number" ? (bias.div(tau) as tf.Tensor4D) : divideBias(bias, tau);
    // The { output, weights } object is a TensorContainer; core's type does not say so.
    return scaledDotProductAttention(qs, k, v, { causal, scale: s, returnWeights, ...(mask ? { mask } : {}), ...(bias ? { bias } : {}) }) as unknown as tf.TensorContainer;
  }) as unknown as tf.Tensor4D | AttentionWithWeights;
}
