// Gated DeltaNet (Yang, Kautz, Hatamizadeh, ICLR 2025), key-first as fla's naive_recurrent_gated_delta_rule:
//   S ← α_t S;  u_t = β_t (v_t − Sᵀk_t);  S ← S + k_t u_tᵀ;  o_t = Sᵀ(scale·q_t)
// The paper writes o_t = S_t q_t with S_paper = Sᵀ and no scale; both official codes scale q by dk^-0.5.
// Chunk mode is the exact WY form of fla's naive_chunk_gated_delta_rule. The intra-chunk term uses the
// decay mask Γ, as the code does (the paper's final chunk formula writes the causal mask M: erratum,
// NVlabs/GatedDeltaNet issue #15).
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertBoolean, assertKnownOptions, assertNumber, assertRank, batchMatMul, checkAttentionInputs, resolveScale, shapeString, splitLeading, l2Normalize } from "@attnkit/core";
import { takeRows } from "./rows";
import { view } from "./view";
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
    const qn = (qkL2Norm ? l2(q, eps) : q).mul(scale);
    const kn = qkL2Norm ? l2(k, eps) : k;
    const s0 = init?.s ?? tf.zeros([dims.batch, dims.heads, dims.dim, dims.dimV]);
    if (mode === "recurrent") return recurrent(qn, kn, v, alpha ?? tf.exp(logAlpha!), beta, s0);
    const g = logAlpha ?? tf.log(tf.maximum(alpha!, 1e-30));
    return chunked(qn, kn, v, g, beta, s0, chunkSize);
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

/** Lower-triangular 0/1 mask [c, c], with or without the diagonal. */
function lower(c: number, diagonal: boolean): tf.Tensor2D {
  const m = new Float32Array(c * c);
  for (let i = 0; i < c; i++) for (let j = 0; j <= (diagonal ? i : i - 1); j++) m[i * c + j] = 1;
  return tf.tensor2d(m, [c, c]);
}

// T = (I + A)⁻¹ for strictly lower A [..., c, c] by forward substitution, T_i = e_i − Σ_{j<i} A_ij T_j,
// each step batched over all chunks and heads. Exact, unlike a Neumann series, which cancels
// catastrophically in float32 when keys are correlated. A custom gradient, dA = −Tᵀ dT Tᵀ (strictly lower),
// keeps the c small steps off the tape.
const unitLowerInverse = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const c = a.shape[a.rank - 1]!;
  const n = a.size / (c * c);
  const eye = tf.eye(c);
  const rows = splitLeading(a.reshape([n, c, c]).transpose([1, 0, 2])); // row i of every matrix: [n, c]
  let t = tf.broadcastTo(eye.slice([0, 0], [1, c]), [1, n, c]) as tf.Tensor; // rows so far, [i, n, c]
  for (let i = 1; i < c; i++) {
    const coef = rows[i]!.slice([0, 0], [n, i]).transpose().expandDims(2); // A_ij, [i, n, 1]
    const row = eye.slice([i, 0], [1, c]).sub(coef.mul(t).sum(0, true));
    t = tf.concat([t, row], 0);
  }
  const value = t.transpose([1, 0, 2]).reshape(a.shape);
  save([value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const inv = saved[0]!;
      return batchMatMul(batchMatMul(inv, dy, true, false), inv, false, true).neg().mul(lower(c, false));
    },
  };
});

// States at every chunk start: S_0 = s0, S_{c+1} = M_c S_c + B_c; returns [b, h, n + 1, dk, dv]. One small
// product per chunk is inherently sequential; a custom gradient (the reverse scan) keeps it off the tape.
const affineScan = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [m, bias, s0, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  const [b, h, n, dk] = m.shape as number[];
  const dv = bias.shape[4]!;
  const perChunk = (x: tf.Tensor, cols: number) => splitLeading(x.reshape([b! * h!, x.shape[2]!, dk!, cols]).transpose([1, 0, 2, 3]));
  const ms = perChunk(m, dk!);
  const bs = perChunk(bias, dv);
  const states = [s0.reshape([b! * h!, dk!, dv])];
  for (let i = 0; i < n!; i++) states.push(batchMatMul(ms[i]!, states[i]!).add(bs[i]!));
  const value = tf.stack(states, 0).transpose([1, 0, 2, 3]).reshape([b!, h!, n! + 1, dk!, dv]);
  save([m, value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sm, sv] = saved as [tf.Tensor, tf.Tensor];
      const mats = perChunk(sm, dk!);
      const st = perChunk(sv, dv);
      const dys = perChunk(dy, dv);
      let g = dys[n!]!;
      const dM: tf.Tensor[] = [];
      const dB: tf.Tensor[] = [];
      for (let i = n! - 1; i >= 0; i--) {
        dB[i] = g;
        dM[i] = batchMatMul(g, st[i]!, false, true);
        g = dys[i]!.add(batchMatMul(mats[i]!, g, true, false));
      }
      const back = (list: tf.Tensor[], cols: number) => tf.stack(list, 0).transpose([1, 0, 2, 3]).reshape([b!, h!, n!, dk!, cols]);
      return [back(dM, dk!), back(dB, dv), g.reshape([b!, h!, dk!, dv])];
    },
  };
});

function chunked(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, g: tf.Tensor, beta: tf.Tensor, s0: tf.Tensor, chunkSize: number): { output: tf.Tensor; s: tf.Tensor } {
  const [b, h, seq, dk] = q.shape as number[];
  const dv = v.shape[3]!;
  const c = Math.min(chunkSize, seq!);
  const n = Math.ceil(seq! / c);
  const pad = n * c - seq!;
  // Padding with k = 0, β = 0, log α = 0 leaves the state untouched: equivalent to a shorter last chunk.
  const split4 = (x: tf.Tensor) => view(pad > 0 ? x.pad([[0, 0], [0, 0], [0, pad], [0, 0]]) : x, [b!, h!, n, c, x.shape[3]!]);
  const split3 = (x: tf.Tensor) => (pad > 0 ? x.pad([[0, 0], [0, 0], [0, pad]]) : x).reshape([b!, h!, n, c]);
  const qc = split4(q);
  const kc = split4(k);
  const vc = split4(v);
  const gamma = tf.cumsum(split3(g), 3); // local cumulative log decay γ, [b, h, n, c]
  const bc = split3(beta).expandDims(4); // [b, h, n, c, 1]
  const lowerIncl = lower(c, true);
  const diff = gamma.expandDims(4).sub(gamma.expandDims(3)); // γ_i − γ_j
  const decay = tf.exp(diff.mul(lowerIncl)).mul(lowerIncl); // Γ (masked before exp: no inf·0 in gradients)
  const kk = batchMatMul(kc, kc, false, true);
  const a = kk.mul(decay).mul(bc).mul(lower(c, false));
  const t = unitLowerInverse(a);
  const eg = tf.exp(gamma).expandDims(4);
  const u = batchMatMul(t, vc.mul(bc)); // [b, h, n, c, dv]
  const w = batchMatMul(t, kc.mul(bc).mul(eg)); // [b, h, n, c, dk]
  const gLast = gamma.slice([0, 0, 0, c - 1], [-1, -1, -1, 1]); // [b, h, n, 1]
  const kd = kc.mul(tf.exp(gLast.sub(gamma)).expandDims(4));
  // S_{c+1} = M_c S_c + B_c with M_c = e^{γ_last} I − K̃ᵀW, B_c = K̃ᵀU: all products batched over chunks,
  // only one small product per chunk stays sequential.
  const m = tf.eye(dk!).mul(tf.exp(gLast).expandDims(4)).sub(batchMatMul(kd, w, true, false));
  const bias = batchMatMul(kd, u, true, false);
  const all = affineScan(m, bias, s0);
  const flat = view(all, [b! * h!, n + 1, dk! * dv]);
  const st = view(takeRows(flat, 0, n), [b!, h!, n, dk!, dv]);
  const s = takeRows(flat, n, 1).reshape([b!, h!, dk!, dv]);
  const vNew = u.sub(batchMatMul(w, st));
  const o = batchMatMul(qc.mul(eg), st).add(batchMatMul(batchMatMul(qc, kc, false, true).mul(decay), vNew));
  const output = view(o, [b!, h!, n * c, dv]);
  return { output: pad > 0 ? output.slice([0, 0, 0, 0], [-1, -1, seq!, -1]) : output, s };
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
