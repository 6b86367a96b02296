// Linear attention (Katharopoulos et al. 2020; fla `linear_attn`): q̃ = scale·φ(q), k̃ = φ(k),
// o_t = Σ_{s≤t} (q̃_t·k̃_s) v_s / (q̃_t·Σ_{s≤t} k̃_s + eps); the causal forms come from the shared engine
// (chunking.ts), which carries the normaliser z next to the state.
import * as tf from "@tensorflow/tfjs";
import { batchMatMul, assertBoolean, assertKnownOptions, assertNumber, assertOneOf, checkAttentionInputs, resolveScale, ShapeError } from "@attnkit/core";
import type { ElementwiseMap } from "./chunked";
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

// φ with its slope from y = φ(x), for the chunk op's hand-written backward: elu(x)+1 has slope eˣ = y for
// x ≤ 0 (y ≤ 1) and 1 above, i.e. min(y, 1); relu has slope 1 where y > 0.
const MAPS: Record<FeatureMap, ElementwiseMap | null> = {
  elu1: { value: (x) => tf.elu(x).add(1), slope: (y) => tf.clipByValue(y, 0, 1) },
  relu: { value: (x) => tf.relu(x), slope: (y) => tf.step(y) },
  identity: null,
};

export function linearFeatureMap(x: tf.Tensor, map: FeatureMap): tf.Tensor {
  return MAPS[map]?.value(x) ?? x;
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
    if (causal) {
      const opts = { map: MAPS[map], qScale: scale, logDecay: null, logDecayValues: null, mode, chunkSize, s0: init?.s ?? null, z0: init?.z ?? null, eps: normalize ? eps : null, withState: returnState };
      const r = causalLinear(q, k, v, opts);
      return returnState ? [r.o, r.s!, ...(r.z ? [r.z] : [])] : [r.o];
    }
    const qf = linearFeatureMap(q, map).mul(scale);
    const kf = linearFeatureMap(k, map);
    const written = batchMatMul(kf, v, true, false);
    const s = init ? init.s.add(written) : written;
    const o = batchMatMul(qf, s);
    if (!normalize) return returnState ? [o, s] : [o];
    const z = init ? init.z!.add(kf.sum(2)) : kf.sum(2);
    const output = o.div(batchMatMul(qf, z.expandDims(3)).add(eps));
    return returnState ? [output, s, z] : [output];
  });
  if (!returnState) return result[0]!;
  const state: LinearState = result[2] ? { s: result[1]!, z: result[2] } : { s: result[1]! };
  return { output: result[0]!, state };
}
export type { LinearState, OutputWithState, LinearMode } from "./state";
