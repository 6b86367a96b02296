// Decay linear attention, the Lightning / TransNormer token mixer without its surroundings:
// o_t = Σ_{s≤t} λ_h^{t−s} (scale·q_t·k_s) v_s (+ λ^{t+1} q_tᵀ S0). No feature map, no denominator:
// TransNormer normalises after attention (SRMSNorm, see transnormer.ts). Default scale 1 as in
// OpenNLPLab's lightning_attn_func (fla's chunk_lightning_attn uses dim^-0.5).
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertBoolean, assertKnownOptions, assertRank, checkAttentionInputs, resolveScale, shapeString } from "@attnkit/core";
import { causalLinear } from "./chunking";
import { checkChunkSize, checkMode, checkState, type LinearMode, type LinearState, type OutputWithState } from "./state";

export interface DecayLinearAttentionOptions {
  /** λ per head in (0, 1]: a number[] (checked) or a [heads] Tensor (values not read back, see README). */
  decay: number[] | tf.Tensor;
  /** Default true. Non-causal uses λ^{|t−s|} (forward scan + reversed scan − diagonal). */
  causal?: boolean;
  /** Multiplies q; default 1. */
  scale?: number | null;
  /** Default 'chunk' (Lightning Attention-2). */
  mode?: LinearMode;
  chunkSize?: number;
  /** { s: [b, h, dim, dimV] }; causal only. */
  initialState?: LinearState | null;
  returnState?: boolean;
}

const KNOWN = ["decay", "causal", "scale", "mode", "chunkSize", "initialState", "returnState"];

/** Checks `decay` and returns log λ as a [heads] tensor (caller disposes / runs inside a tidy). */
export function logDecayOf(fn: string, decay: unknown, heads: number): tf.Tensor {
  if (Array.isArray(decay)) {
    if (decay.length !== heads) throw new ShapeError(`${fn}: decay must have one value per head (${heads}), got ${decay.length}`);
    decay.forEach((d, i) => {
      if (typeof d !== "number" || !(d > 0 && d <= 1)) throw new OptionError(`${fn}: decay[${i}] must be in (0, 1], got ${String(d)}`);
    });
    return tf.tensor1d(decay.map((d) => Math.log(d)), "float32");
  }
  if (decay instanceof tf.Tensor) {
    assertRank(fn, "decay", decay, 1);
    if (decay.shape[0] !== heads) throw new ShapeError(`${fn}: decay must have shape [${heads}], got ${shapeString(decay.shape)}`);
    return tf.log(decay);
  }
  throw new OptionError(`${fn}: decay (λ per head in (0, 1], a number[] or Tensor) is required, got ${decay === undefined ? "undefined" : typeof decay}`);
}

export function decayLinearAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: DecayLinearAttentionOptions & { returnState?: false }): tf.Tensor;
export function decayLinearAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: DecayLinearAttentionOptions & { returnState: true }): OutputWithState;
export function decayLinearAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: DecayLinearAttentionOptions): tf.Tensor | OutputWithState;
export function decayLinearAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: DecayLinearAttentionOptions): tf.Tensor | OutputWithState {
  const fn = "decayLinearAttention";
  if (options === undefined || options === null) throw new OptionError(`${fn}: options with decay (λ per head) are required`);
  assertKnownOptions(fn, options, KNOWN);
  const dims = checkAttentionInputs(fn, q, k, v);
  const causal = options.causal ?? true;
  assertBoolean(fn, "causal", causal);
  const returnState = options.returnState ?? false;
  assertBoolean(fn, "returnState", returnState);
  const scale = resolveScale(fn, options.scale, 1);
  const mode = checkMode(fn, options.mode, ["parallel", "recurrent", "chunk"] as const, "chunk");
  const chunkSize = checkChunkSize(fn, options.chunkSize);
  if (dims.seqQ !== dims.seqK) throw new ShapeError(`${fn}: q and k must have the same length, got ${dims.seqQ} and ${dims.seqK}`);
  const init = checkState(fn, options.initialState, { batch: dims.batch, heads: dims.heads, dim: dims.dim, dimV: dims.dimV }, false);
  if (!causal && (init || returnState)) throw new OptionError(`${fn}: initialState and returnState need causal: true (a non-causal pass has no carried state)`);

  const result = tf.tidy(() => {
    const logDecay = logDecayOf(fn, options.decay, dims.heads);
    // A number[] decay is a constant: chunk mode skips its gradient.
    const logDecayValues = Array.isArray(options.decay) ? options.decay.map((d) => Math.log(d)) : null;
    const forward = causalLinear(q, k, v, { map: null, qScale: scale, logDecay, logDecayValues, mode, chunkSize, s0: init?.s ?? null, z0: null, eps: null, withState: returnState });
    if (causal) return returnState ? [forward.o, forward.s!] : [forward.o];
    // λ^{|t−s|}: the reversed causal pass covers s ≥ t; the diagonal (λ⁰) was counted twice.
    const rev = (x: tf.Tensor) => tf.reverse(x, 2);
    const backward = causalLinear(rev(q), rev(k), rev(v), { map: null, qScale: scale, logDecay, logDecayValues, mode, chunkSize, s0: null, z0: null, eps: null, withState: false });
    const diagonal = q.mul(k).sum(3, true).mul(v).mul(scale);
    return [forward.o.add(rev(backward.o)).sub(diagonal)];
  });
  return returnState ? { output: result[0]!, state: { s: result[1]! } } : result[0]!;
}
