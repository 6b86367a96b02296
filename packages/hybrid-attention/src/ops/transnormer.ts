// Helpers of TransNormerLLM's token mixer (HF modeling_transnormer.py, OpenNLPLab lightning-attention):
// SRMSNorm, LRPE, ALiBi slopes and the per-head decay λ, whose three sources disagree (research §3).
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertInteger, assertKnownOptions, assertNumber, assertOneOf, assertRank, shapeString, rmsNorm } from "@attnkit/core";

/** SRMSNorm: x·rsqrt(mean(x²) + eps) over the last axis, no weight (TNL's simple RMSNorm). */
export function srmsNorm(x: tf.Tensor, options: { eps?: number } = {}): tf.Tensor {
  const fn = "srmsNorm";
  assertKnownOptions(fn, options, ["eps"]);
  assertRank(fn, "x", x, [1, 2, 3, 4, 5, 6]);
  const eps = options.eps ?? 1e-6;
  assertNumber(fn, "eps", eps, { min: 0, minExclusive: true });
  return rmsNorm(x, { eps }); // SRMSNorm is RMSNorm without a gain
}

export interface LrpeOptions {
  /** Position of the first token (default 0), for cached generation. */
  offset?: number;
  /** θ [heads, dim]; default 10000^(−2(h·dim + j)/(heads·dim)) (HF Lrpe's initial value). Added option. */
  theta?: tf.Tensor;
}

/** LRPE θ default [heads, dim] as host numbers. */
export function lrpeTheta(heads: number, dim: number): number[] {
  const out: number[] = [];
  for (let h = 0; h < heads; h++) for (let j = 0; j < dim; j++) out.push(10000 ** ((-2 * (h * dim + j)) / (heads * dim)));
  return out;
}

/** LRPE: x [b, h, seq, dim] → [x·cos(θn), x·sin(θn)] [b, h, seq, 2·dim], n = offset + t; relative: ⟨lrpe(q)_n, lrpe(k)_m⟩ = Σ q_j k_j cos(θ_j(n−m)). */
export function lrpe(x: tf.Tensor, options: LrpeOptions = {}): tf.Tensor {
  const fn = "lrpe";
  assertKnownOptions(fn, options, ["offset", "theta"]);
  assertRank(fn, "x", x, 4);
  const offset = options.offset ?? 0;
  assertInteger(fn, "offset", offset, { min: 0 });
  const [, heads, seq, dim] = x.shape as number[];
  if (options.theta !== undefined) {
    assertRank(fn, "theta", options.theta, 2);
    if (options.theta.shape[0] !== heads || options.theta.shape[1] !== dim) throw new ShapeError(`${fn}: theta must have shape [${heads}, ${dim}], got ${shapeString(options.theta.shape)}`);
  }
  return tf.tidy(() => {
    const theta = (options.theta ?? tf.tensor2d(lrpeTheta(heads!, dim!), [heads!, dim!])).reshape([1, heads!, 1, dim!]);
    const angle = tf.range(offset, offset + seq!, 1, "float32").reshape([1, 1, seq!, 1]).mul(theta);
    return tf.concat([x.mul(tf.cos(angle)), x.mul(tf.sin(angle))], 3);
  });
}

/** ALiBi slopes (Press et al.): 2^(−8(i+1)/H) for power-of-2 H, else the ALiBi interleave. float64 numbers. */
export function alibiSlopes(heads: number): number[] {
  assertInteger("alibiSlopes", "heads", heads, { min: 1 });
  const pow2 = (n: number) => Array.from({ length: n }, (_, i) => 2 ** ((-8 * (i + 1)) / n));
  if (Number.isInteger(Math.log2(heads))) return pow2(heads);
  const closest = 2 ** Math.floor(Math.log2(heads));
  return [...pow2(closest), ...alibiSlopes(2 * closest).filter((_, i) => i % 2 === 0).slice(0, heads - closest)];
}

export interface TransnormerDecayOptions {
  heads: number;
  layers: number;
  /** 0-based layer index. */
  layerIndex: number;
  /** 'official' (HF modeling_transnormer / lightning-attention, default), 'paper' (TNL eq. 10) or 'fla'. */
  variant?: "official" | "paper" | "fla";
}

/** The TNL decay λ per head (float64 numbers, in (0, 1]). */
export function transnormerDecay(options: TransnormerDecayOptions): number[] {
  const fn = "transnormerDecay";
  if (typeof options !== "object" || options === null) throw new OptionError(`${fn}: expects { heads, layers, layerIndex, variant? }`);
  assertKnownOptions(fn, options, ["heads", "layers", "layerIndex", "variant"]);
  const { heads, layers, layerIndex } = options;
  assertInteger(fn, "heads", heads, { min: 1 });
  assertInteger(fn, "layers", layers, { min: 1 });
  assertInteger(fn, "layerIndex", layerIndex, { min: 0, max: layers - 1 });
  const variant = options.variant ?? "official";
  assertOneOf(fn, "variant", variant, ["official", "paper", "fla"] as const);
  if (variant === "official") {
    // 1 − l/(L−1) + 1e-5; a single layer (L − 1 = 0, a division by zero in the original) counts as the first layer.
    const temperature = (layers > 1 ? 1 - layerIndex / (layers - 1) : 1) + 1e-5;
    return alibiSlopes(heads).map((s) => Math.exp(-s * temperature));
  }
  const temperature = 1 - layerIndex / layers;
  // paper: h is 1-based; fla: h = 0..H−1, so head 0 has no decay.
  const first = variant === "paper" ? 1 : 0;
  return Array.from({ length: heads }, (_, i) => Math.exp(-((8 * (i + first)) / heads) * temperature));
}
