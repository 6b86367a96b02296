// Gated DeltaNet (Yang, Kautz, Hatamizadeh, ICLR 2025), key-first as fla's naive_recurrent_gated_delta_rule:
//   S ← α_t S;  u_t = β_t (v_t − Sᵀk_t);  S ← S + k_t u_tᵀ;  o_t = Sᵀ(scale·q_t)
// The paper writes o_t = S_t q_t with S_paper = Sᵀ and no scale; both official codes scale q by dk^-0.5.
// Chunk mode is the exact WY form of fla's naive_chunk_gated_delta_rule (gated-delta-wy.ts), run over
// cache-sized segments by one custom-gradient op (gated-delta-segments.ts).
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertBoolean, assertKnownOptions, assertNumber, assertRank, checkAttentionInputs, resolveScale, shapeString, l2Normalize } from "@attnkit/core";
import { gatedDeltaChunks } from "./gated-delta-segments";
import { checkChunkSize, checkMode, checkState, type LinearState, type OutputWithState } from "./state";

export interface GatedDeltaRuleOptions {
  /** Decay α [b, h, seq] in (0, 1] (the recurrent form also takes 0). Give this or `logAlpha`. */
  alpha?: tf.Tensor;
  /** log α [b, h, seq] (≤ 0), e.g. from gatedDeltaGates; numerically better than alpha. Added option. */
  logAlpha?: tf.Tensor;
  /** Write strength β [b, h, seq]. */
  beta: tf.Tensor;
  /** L2-normalise q and k per head (default true, as the official layers do). */
  qkL2Norm?: boolean;
  /** eps inside the sqrt of the L2 norm, default 1e-6. */
  l2NormEps?: number;
  /** Multiplies q after the L2 norm; default dim^-0.5. */
  scale?: number | null;
  /** Default 'chunk'. */
  mode?: "recurrent" | "chunk";
  chunkSize?: number;
  /** { s: [b, h, dim, dimV] }. */
  initialState?: LinearState | null;
  returnState?: boolean;
}

const KNOWN = ["alpha", "logAlpha", "beta", "qkL2Norm", "l2NormEps", "scale", "mode", "chunkSize", "initialState", "returnState"];

// α must be > 0 for the chunk form (it takes log α). This is the one host read of the package: TF.js
// WebGPU has no synchronous read-back, so there the check is skipped and α is clamped to ≥ 1e-30
// (α = 0 then resets the state exactly as the recurrent form does).
function checkPositiveAlpha(fn: string, alpha: tf.Tensor): void {
  if (tf.getBackend() === "webgpu") return;
  const values = alpha.dataSync();
  for (let i = 0; i < values.length; i++) {
    if (!(values[i]! > 0)) throw new OptionError(`${fn}: alpha must be > 0 in chunk mode (it takes log α; use mode 'recurrent' for α = 0), got ${values[i]} at flat index ${i}`);
  }
}

function checkGate(fn: string, name: string, x: unknown, want: number[]): tf.Tensor {
  assertRank(fn, name, x, 3);
  if (x.shape.some((d, i) => d !== want[i])) throw new ShapeError(`${fn}: ${name} must have shape ${shapeString(want)}, got ${shapeString(x.shape)}`);
  return x;
}

const l2 = (x: tf.Tensor, eps: number) => l2Normalize(x, { eps });

export function gatedDeltaRule(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: GatedDeltaRuleOptions & { returnState?: false }): tf.Tensor;
export function gatedDeltaRule(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: GatedDeltaRuleOptions & { returnState: true }): OutputWithState;
export function gatedDeltaRule(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: GatedDeltaRuleOptions): tf.Tensor | OutputWithState;
export function gatedDeltaRule(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: GatedDeltaRuleOptions): tf.Tensor | OutputWithState {
  const fn = "gatedDeltaRule";
  if (options === undefined || options === null) throw new OptionError(`${fn}: options with alpha and beta are required`);
  assertKnownOptions(fn, options, KNOWN);
  const dims = checkAttentionInputs(fn, q, k, v);
  if (dims.seqQ !== dims.seqK) throw new ShapeError(`${fn}: q and k must have the same length, got ${dims.seqQ} and ${dims.seqK}`);
  const gateShape = [dims.batch, dims.heads, dims.seqQ];
  if ((options.alpha === undefined) === (options.logAlpha === undefined)) throw new OptionError(`${fn}: give exactly one of alpha and logAlpha`);
  const alpha = options.alpha !== undefined ? checkGate(fn, "alpha", options.alpha, gateShape) : null;
  const logAlpha = options.logAlpha !== undefined ? checkGate(fn, "logAlpha", options.logAlpha, gateShape) : null;
  const beta = checkGate(fn, "beta", options.beta, gateShape);
  const qkL2Norm = options.qkL2Norm ?? true;
  assertBoolean(fn, "qkL2Norm", qkL2Norm);
  const eps = options.l2NormEps ?? 1e-6;
  assertNumber(fn, "l2NormEps", eps, { min: 0, minExclusive: true });
  const scale = resolveScale(fn, options.scale, dims.dim ** -0.5);
  const mode = checkMode(fn, options.mode, ["recurrent", "chunk"] as const, "chunk");
  const chunkSize = checkChunkSize(fn, options.chunkSize);
  const returnState = options.returnState ?? false;
  assertBoolean(fn, "returnState", returnState);
  const init = checkState(fn, options.initialState, { batch: dims.batch, heads: dims.heads, dim: dims.dim, dimV: dims.dimV }, false);
  if (mode === "chunk" && alpha) checkPositiveAlpha(fn, alpha);

  const result = tf.tidy(() => {
    const s0 = init?.s ?? tf.zeros([dims.batch, dims.heads, dims.dim, dims.dimV]);
    if (mode === "recurrent") return recurrent((qkL2Norm ? l2(q, eps) : q).mul(scale), qkL2Norm ? l2(k, eps) : k, v, alpha ?? tf.exp(logAlpha!), beta, s0);
    const g = logAlpha ?? tf.log(tf.maximum(alpha!, 1e-30));
    return gatedDeltaChunks({ q, k, v, logAlpha: g, beta, s0 }, { normEps: qkL2Norm ? eps : null, scale, chunkSize });
  });
  if (returnState) return { output: result.output, state: { s: result.s } };
  result.s.dispose();
  return result.output;
}

function recurrent(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, alpha: tf.Tensor, beta: tf.Tensor, s0: tf.Tensor): { output: tf.Tensor; s: tf.Tensor } {
  const qs = tf.unstack(q, 2);
  const ks = tf.unstack(k, 2);
  const vs = tf.unstack(v, 2);
  const as = tf.unstack(alpha.expandDims(3).expandDims(4), 2); // [b, h, 1, 1]
  const bs = tf.unstack(beta.expandDims(3), 2); // [b, h, 1]
  let s = s0;
  const outs: tf.Tensor[] = [];
  for (let t = 0; t < qs.length; t++) {
    s = s.mul(as[t]!);
    const kt = ks[t]!.expandDims(3); // [b, h, dk, 1]
    const u = vs[t]!.sub(kt.mul(s).sum(2)).mul(bs[t]!); // β (v − Sᵀk), [b, h, dv]
    s = s.add(kt.mul(u.expandDims(2)));
    outs.push(qs[t]!.expandDims(3).mul(s).sum(2));
  }
  return { output: tf.stack(outs, 2), s };
}

export interface GatedDeltaGatesInputs {
  /** Decay pre-activation W_a x, [..., heads]. */
  a: tf.Tensor;
  /** Write-strength pre-activation W_b x, [..., heads] (same shape as a). */
  b: tf.Tensor;
  /** A_log [heads]. */
  aLog: tf.Tensor;
  /** dt_bias [heads]. */
  dtBias: tf.Tensor;
}

/** The official layer's gates: log α = −exp(aLog)·softplus(a + dtBias), β = sigmoid(b) (fla naive_gdn_gate). */
export function gatedDeltaGates(inputs: GatedDeltaGatesInputs): { logAlpha: tf.Tensor; beta: tf.Tensor } {
  const fn = "gatedDeltaGates";
  if (typeof inputs !== "object" || inputs === null) throw new OptionError(`${fn}: expects { a, b, aLog, dtBias }`);
  assertKnownOptions(fn, inputs, ["a", "b", "aLog", "dtBias"]);
  const { a, b, aLog, dtBias } = inputs;
  assertRank(fn, "a", a, [1, 2, 3, 4, 5]);
  assertRank(fn, "b", b, [1, 2, 3, 4, 5]);
  if (a.shape.some((d, i) => d !== b.shape[i]) || a.rank !== b.rank) throw new ShapeError(`${fn}: b must have the shape of a ${shapeString(a.shape)}, got ${shapeString(b.shape)}`);
  const heads = a.shape[a.rank - 1]!;
  for (const [name, x] of [["aLog", aLog], ["dtBias", dtBias]] as const) {
    assertRank(fn, name, x, 1);
    if (x.shape[0] !== heads) throw new ShapeError(`${fn}: ${name} must have shape [${heads}] (one per head, the last axis of a), got ${shapeString(x.shape)}`);
  }
  return tf.tidy(() => ({ logAlpha: tf.exp(aLog).neg().mul(tf.softplus(a.add(dtBias))), beta: tf.sigmoid(b) }));
}
