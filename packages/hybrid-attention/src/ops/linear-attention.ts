// Linear attention (Katharopoulos et al. 2020; fla `linear_attn`): q̃ = scale·φ(q), k̃ = φ(k),
// o_t = Σ_{s≤t} (q̃_t·k̃_s) v_s / (q̃_t·Σ_{s≤t} k̃_s + eps). The normaliser rides along as an extra
// value column of ones, so every form (parallel, recurrent, chunk) computes it with the same products.
import * as tf from "@tensorflow/tfjs";
import { batchMatMul, assertBoolean, assertKnownOptions, assertNumber, assertOneOf, checkAttentionInputs, resolveScale, ShapeError } from "@attnkit/core";
import { causalLinear } from "./chunking";
import { checkChunkSize, checkMode, checkState, type LinearMode, type LinearState, type OutputWithState } from "./state";

export type FeatureMap = "elu1" | "relu" | "identity";

export interface LinearAttentionOptions {
  /** φ: elu(x)+1 (default), relu or identity. */
  featureMap?: FeatureMap;
  /** Divide by q̃·Σk̃ + eps (default true). */
  normalize?: boolean;
  /** Default true. Non-causal sums over every key (the mode does not matter then). */
  causal?: boolean;
  /** Multiplies φ(q); default dim^-0.5 (fla). */
  scale?: number | null;
  /** Added to the denominator, default 1e-10. */
  eps?: number;
  /** Default 'chunk'. */
  mode?: LinearMode;
  /** Default 64. */
  chunkSize?: number;
  /** { s: [b, h, dim, dimV], z: [b, h, dim] } (z only with normalize). */
  initialState?: LinearState | null;
  returnState?: boolean;
}

const KNOWN = ["featureMap", "normalize", "causal", "scale", "eps", "mode", "chunkSize", "initialState", "returnState"];

export function linearFeatureMap(x: tf.Tensor, map: FeatureMap): tf.Tensor {
  if (map === "elu1") return tf.elu(x).add(1);
  if (map === "relu") return tf.relu(x);
  return x;
}

export function linearAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options?: LinearAttentionOptions & { returnState?: false }): tf.Tensor;
export function linearAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LinearAttentionOptions & { returnState: true }): OutputWithState;
export function linearAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options?: LinearAttentionOptions): tf.Tensor | OutputWithState;
export function linearAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LinearAttentionOptions = {}): tf.Tensor | OutputWithState {
  const fn = "linearAttention";
  assertKnownOptions(fn, options, KNOWN);
  const dims = checkAttentionInputs(fn, q, k, v);
  const map = options.featureMap ?? "elu1";
  assertOneOf(fn, "featureMap", map, ["elu1", "relu", "identity"] as const);
  const normalize = options.normalize ?? true;
  assertBoolean(fn, "normalize", normalize);
  const causal = options.causal ?? true;
  assertBoolean(fn, "causal", causal);
  const returnState = options.returnState ?? false;
  assertBoolean(fn, "returnState", returnState);
  const eps = options.eps ?? 1e-10;
  assertNumber(fn, "eps", eps, { min: 0 });
  const scale = resolveScale(fn, options.scale, dims.dim ** -0.5);
  const mode = checkMode(fn, options.mode, ["parallel", "recurrent", "chunk"] as const, "chunk");
  const chunkSize = checkChunkSize(fn, options.chunkSize);
  if (causal && dims.seqQ !== dims.seqK) throw new ShapeError(`${fn}: causal attention needs as many queries as keys, got q seq ${dims.seqQ} and k seq ${dims.seqK}`);
  const init = checkState(fn, options.initialState, { batch: dims.batch, heads: dims.heads, dim: dims.dim, dimV: dims.dimV }, normalize);

  const result = tf.tidy(() => {
    const qf = linearFeatureMap(q, map).mul(scale);
    const kf = linearFeatureMap(k, map);
    // [v, 1] and [s, z]: the last output column is the denominator q̃·z.
    const vx = normalize ? tf.concat([v, tf.onesLike(v.slice([0, 0, 0, 0], [-1, -1, -1, 1]))], 3) : v;
    const s0 = init ? (normalize ? tf.concat([init.s, init.z!.expandDims(3)], 3) : init.s) : null;
    let o: tf.Tensor;
    let s: tf.Tensor;
    if (causal) {
      ({ o, s } = causalLinear(qf, kf, vx, { logDecay: null, mode, chunkSize, s0 }));
    } else {
      const written = batchMatMul(kf, vx, true, false);
      s = s0 ? s0.add(written) : written;
      o = batchMatMul(qf, s);
    }
    const dv = dims.dimV;
    const output = normalize ? o.slice([0, 0, 0, 0], [-1, -1, -1, dv]).div(o.slice([0, 0, 0, dv], [-1, -1, -1, 1]).add(eps)) : o;
    if (!returnState) return [output];
    return normalize ? [output, s.slice([0, 0, 0, 0], [-1, -1, -1, dv]), s.slice([0, 0, 0, dv], [-1, -1, -1, 1]).squeeze([3])] : [output, s];
  });
  if (!returnState) return result[0]!;
  const state: LinearState = result[2] ? { s: result[1]!, z: result[2] } : { s: result[1]! };
  return { output: result[0]!, state };
}
export type { LinearState, OutputWithState, LinearMode } from "./state";
