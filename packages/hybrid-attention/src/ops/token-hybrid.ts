// NAtS-L (Deng et al. 2026): a token-level softmax / Gated DeltaNet hybrid inside one layer. The sequence
// is cut into blocks; each (head, block) is routed to softmax attention (its keys stay visible to later
// queries) or to Gated DeltaNet (its tokens are written to the recurrent state). Queries always see their
// own block through both branches. Math: research/hybrid.md §5 (official code; the paper was not read).
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertBoolean, assertBroadcastable, assertInteger, assertKnownOptions, assertNumber, assertRank, assertTensor, batchMatMul, checkAttentionInputs, cumsum, resolveScale, shapeString, withoutGradient, l2Normalize, rmsNorm } from "@attnkit/core";

export interface TokenHybridAttentionOptions {
  /** GDN decay α `[b, h, seq]` in [0, 1]. */
  alpha: tf.Tensor;
  /** GDN write strength β `[b, h, seq]`. */
  beta: tf.Tensor;
  /** `[b, h, nBlocks]`, 1 = softmax block, 0 = Gated DeltaNet block (values in between interpolate both rules). */
  route: tf.Tensor;
  /** Tokens per routing block (official 64; 1 = per-token routing). */
  blockSize: number;
  /** Weight of the softmax branch, a number or broadcastable to `[b, h, seq]` (default 0.5). */
  wAttn?: number | tf.Tensor;
  /** Weight of the GDN branch (default 0.5). */
  wLin?: number | tf.Tensor;
  /** Output gate before SiLU, broadcastable to `[b, h, seq, dimV]`: y ⊙ silu(gate). */
  gate?: tf.Tensor;
  /** L2-normalise q and k of the GDN branch (default true). */
  qkL2Norm?: boolean;
  l2NormEps?: number;
  /** After a softmax block the GDN state is decayed by Πα of that block (default true, released configs). */
  decaySoftmaxBlocks?: boolean;
  /** Scale of both branches (softmax logits and GDN queries); default dim^-0.5. */
  scale?: number | null;
  /** eps of the per-head RMSNorm of each branch (default 1e-6). Added option. */
  normEps?: number;
  returnBranches?: boolean;
}

export interface TokenHybridBranches {
  output: tf.Tensor4D;
  /** Softmax branch before its norm. */
  attention: tf.Tensor4D;
  /** Gated DeltaNet branch before its norm. */
  linear: tf.Tensor4D;
}

const KNOWN = ["alpha", "beta", "route", "blockSize", "wAttn", "wLin", "gate", "qkL2Norm", "l2NormEps", "decaySoftmaxBlocks", "scale", "normEps", "returnBranches"];
const BIG = 1e30;
/** Largest exponent of a key outside the softmax branch (e^20 ≈ 5·10^8: finite in float32 products). */
const EXP_CAP = 20;

function checkWeight(fn: string, name: string, w: unknown, target: number[]): void {
  if (w === undefined) return;
  if (typeof w === "number") {
    assertNumber(fn, name, w);
    return;
  }
  assertRank(fn, name, w, [0, 1, 2, 3]);
  assertBroadcastable(fn, name, w, target);
}

/** Per-key route `[b, h, seq]` from the per-block route. */
export function routePerToken(route: tf.Tensor, blockSize: number, seq: number): tf.Tensor {
  const [b, h, n] = route.shape as [number, number, number];
  return tf.tile(route.expandDims(3), [1, 1, 1, blockSize]).reshape([b, h, n * blockSize]).slice([0, 0, 0], [b, h, seq]);
}

/** Host masks `[rows, seq]` for queries at offset…seq−1: causal keys of the query's own block / of earlier blocks. */
export function blockMasks(seq: number, blockSize: number, offset = 0): { same: tf.Tensor2D; earlier: tf.Tensor2D } {
  const rows = seq - offset;
  const same = new Float32Array(rows * seq);
  const earlier = new Float32Array(rows * seq);
  for (let r = 0; r < rows; r++) {
    const t = r + offset;
    for (let j = 0; j <= t; j++) {
      if (Math.floor(j / blockSize) === Math.floor(t / blockSize)) same[r * seq + j] = 1;
      else earlier[r * seq + j] = 1;
    }
  }
  return { same: tf.tensor2d(same, [rows, seq]), earlier: tf.tensor2d(earlier, [rows, seq]) };
}

/**
 * Softmax branch: query t sees causal keys whose block is a softmax block or is t's own block. The key
 * weight (0/1) multiplies exp(s − m), so a straight-through route receives gradients. Dense over keys.
 */
export function hybridSoftmax(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, keyRoute: tf.Tensor, blockSize: number, scale: number, offset = 0): tf.Tensor {
  const seq = k.shape[2]!;
  const { same, earlier } = blockMasks(seq, blockSize, offset);
  const w = same.add(earlier.mul(keyRoute.expandDims(2))); // [b, h, rows, seq]
  const s = batchMatMul(q.mul(scale), k, false, true);
  // A stabiliser only: the ratio does not depend on it, so it is kept off the tape. (Differentiated,
  // its gradient reaches w multiplied by BIG, and rounding turns that into NaN for the route.)
  const m = withoutGradient((a, b) => tf.max(a.add(b.sub(1).mul(BIG)), -1, true), s, w);
  // Keys in the softmax never score above m. A key outside it (weight 0: a linear block, or after the
  // query) may score far higher; its exponent is capped at EXP_CAP so it cannot overflow to inf (inf · 0 =
  // NaN, forward and back). Its straight-through gradient to the route is exp(s − m), capped alike.
  const p = w.mul(tf.exp(tf.minimum(s.sub(m), EXP_CAP)));
  return batchMatMul(p, v).div(p.sum(-1, true));
}

const rms = (x: tf.Tensor, eps: number) => rmsNorm(x, { eps });

/** y = wLin·RMSNorm(linear) + wAttn·RMSNorm(attention), then ⊙ silu(gate); weights default to 0.5. */
export function combineBranches(attention: tf.Tensor, linear: tf.Tensor, wAttn: number | tf.Tensor | undefined, wLin: number | tf.Tensor | undefined, gate: tf.Tensor | undefined, normEps: number): tf.Tensor4D {
  const weight = (w: number | tf.Tensor | undefined) => (w === undefined ? tf.scalar(0.5) : typeof w === "number" ? tf.scalar(w) : w.rank === 0 ? w : w.expandDims(-1));
  const y = rms(linear, normEps).mul(weight(wLin)).add(rms(attention, normEps).mul(weight(wAttn)));
  return (gate ? y.mul(gate.mul(tf.sigmoid(gate))) : y) as tf.Tensor4D;
}

/**
 * NAtS-L hybrid attention with a given routing. y = wLin·RMSNorm(o_gdn) + wAttn·RMSNorm(o_softmax), then
 * ⊙ silu(gate). Both branches use the same q, k, v heads (the official layer re-splits heads for the
 * softmax branch: a simplification shared with the fixtures).
 */
export function tokenHybridAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: TokenHybridAttentionOptions & { returnBranches: true }): TokenHybridBranches;
export function tokenHybridAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: TokenHybridAttentionOptions): tf.Tensor4D;
export function tokenHybridAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: TokenHybridAttentionOptions): tf.Tensor4D | TokenHybridBranches {
  const fn = "tokenHybridAttention";
  if (options === undefined || options === null) throw new OptionError(`${fn}: options { alpha, beta, route, blockSize } are required, got none`);
  assertKnownOptions(fn, options, KNOWN);
  const { batch, heads, seqQ: T, seqK, dim, dimV } = checkAttentionInputs(fn, q, k, v);
  if (T !== seqK) throw new ShapeError(`${fn}: q and k must have the same length (self-attention), got ${shapeString(q.shape)} and ${shapeString(k.shape)}`);
  const bs = options.blockSize;
  assertInteger(fn, "blockSize", bs, { min: 1 });
  const nBlocks = Math.ceil(T / bs);
  for (const name of ["alpha", "beta"] as const) {
    const t = options[name];
    assertRank(fn, name, t, 3);
    if (t.shape[0] !== batch || t.shape[1] !== heads || t.shape[2] !== T) throw new ShapeError(`${fn}: ${name} must have shape [${batch}, ${heads}, ${T}], got ${shapeString(t.shape)}`);
  }
  const { route, gate } = options;
  assertTensor(fn, "route", route);
  if (route.rank !== 3 || route.shape[0] !== batch || route.shape[1] !== heads || route.shape[2] !== nBlocks) {
    throw new ShapeError(`${fn}: route must have shape [${batch}, ${heads}, ${nBlocks}] (one entry per block of ${bs} tokens), got ${shapeString(route.shape)}`);
  }
  checkWeight(fn, "wAttn", options.wAttn, [batch, heads, T]);
  checkWeight(fn, "wLin", options.wLin, [batch, heads, T]);
  if (gate !== undefined) {
    assertRank(fn, "gate", gate, [1, 2, 3, 4]);
    assertBroadcastable(fn, "gate", gate, [batch, heads, T, dimV]);
  }
  const qkL2Norm = options.qkL2Norm ?? true;
  assertBoolean(fn, "qkL2Norm", qkL2Norm);
  const l2Eps = options.l2NormEps ?? 1e-6;
  assertNumber(fn, "l2NormEps", l2Eps, { min: 0, minExclusive: true });
  const decay = options.decaySoftmaxBlocks ?? true;
  assertBoolean(fn, "decaySoftmaxBlocks", decay);
  const scale = resolveScale(fn, options.scale, dim ** -0.5);
  const normEps = options.normEps ?? 1e-6;
  assertNumber(fn, "normEps", normEps, { min: 0, minExclusive: true });
  const returnBranches = options.returnBranches ?? false;
  assertBoolean(fn, "returnBranches", returnBranches);

  return tf.tidy(() => {
    const r = route.cast("float32");
    const attention = hybridSoftmax(q, k, v, routePerToken(r, bs, T), bs, scale) as tf.Tensor4D;
    const l2 = (x: tf.Tensor) => (qkL2Norm ? l2Normalize(x, { eps: l2Eps }) : x);
    const linear = gdnBranch(l2(q).mul(scale), l2(k), v, options.alpha, options.beta, r, bs, decay, tf.zeros([batch, heads, dim, dimV])).output as tf.Tensor4D;
    const output = combineBranches(attention, linear, options.wAttn, options.wLin, gate, normEps);
    if (!returnBranches) return output as tf.Tensor4D;
    return { output: output as tf.Tensor4D, attention, linear };
  });
}

/** One gated-delta step from state `s` [b, h, dk, dv]: S ← αS; S += k (β(v − Sᵀk))ᵀ; o = Sᵀq. */
export function gdnStep(s: tf.Tensor, q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, alpha: tf.Tensor, beta: tf.Tensor): { o: tf.Tensor; s: tf.Tensor } {
  // q, k [b, h, dk]; v [b, h, dv]; alpha, beta [b, h].
  const decayed = s.mul(alpha.expandDims(2).expandDims(3));
  const kc = k.expandDims(3);
  const u = v.sub(kc.mul(decayed).sum(2)).mul(beta.expandDims(2));
  const next = decayed.add(kc.mul(u.expandDims(2)));
  return { o: q.expandDims(3).mul(next).sum(2), s: next };
}

/** Lower-triangular 0/1 mask [m, m], with or without the diagonal. */
function lowerMask(m: number, diagonal: boolean): tf.Tensor2D {
  const data = new Float32Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j <= (diagonal ? i : i - 1); j++) data[i * m + j] = 1;
  return tf.tensor2d(data, [m, m]);
}

// (I + A)⁻¹ for strictly lower A [..., m, m] by forward substitution, T_i = e_i − Σ_{j<i} A_ij T_j, batched
// over every block and head. Rows are sliced and concatenated (no unstack: TF.js's unstack gradient fails
// on outputs that receive no gradient, as row 0 of A here).
function unitLowerInverse(a: tf.Tensor): tf.Tensor {
  const m = a.shape[a.rank - 1]!;
  const lead = a.shape.slice(0, -2);
  const eye = tf.eye(m);
  const row = (i: number) => eye.slice([i, 0], [1, m]);
  let t = tf.broadcastTo(row(0), [...lead, 1, m]);
  for (let i = 1; i < m; i++) {
    const coef = a.slice([...lead.map(() => 0), i, 0], [...lead, 1, i]); // [..., 1, i]
    const next = row(i).sub(batchMatMul(coef, t)); // [..., 1, m]
    t = tf.concat([t, next], a.rank - 2);
  }
  return t;
}

/**
 * GDN branch over whole blocks from `s0` (q already normalised and scaled, k normalised). Each block runs
 * the gated delta rule from its start state; a softmax block (route 1) then hands on its start state,
 * decayed by its Πα when `decay`, a GDN block (route 0) its end state. Returns the outputs and the state
 * after the last block.
 *
 * Each block is one chunk of the exact WY form (fla's naive_chunk_gated_delta_rule): everything that does
 * not depend on the start state is computed for all blocks at once; only the state hand-over, a few
 * [dk, dk]·[dk, dv] products per block, is sequential. (A local copy of the chunk algorithm rather than
 * gatedDeltaRule per block: its unstacks fail TF.js's gradient when a block's output goes unused.)
 */
export function gdnBranch(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, alpha: tf.Tensor, beta: tf.Tensor, route: tf.Tensor, blockSize: number, decay: boolean, s0: tf.Tensor): { output: tf.Tensor; s: tf.Tensor } {
  const [b, h, T, dk] = q.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  const m = Math.min(blockSize, T);
  const n = Math.ceil(T / m);
  const pad = n * m - T;
  const bh = b * h;
  // (batch, head) pairs are folded into one axis: everything stays rank ≤ 4 (WebGPU's limit). The
  // cumulative sum is core's (tf.cumsum's gradient is wrong on WebGPU for some shapes).
  // Padding with k = 0, β = 0, log α = 0 leaves the state untouched, like a shorter last block.
  const split4 = (x: tf.Tensor) => (pad > 0 ? x.pad([[0, 0], [0, 0], [0, pad], [0, 0]]) : x).reshape([bh, n, m, x.shape[3]!]);
  const split3 = (x: tf.Tensor) => (pad > 0 ? x.pad([[0, 0], [0, 0], [0, pad]]) : x).reshape([bh, n, m]);
  const qc = split4(q);
  const kc = split4(k);
  const vc = split4(v);
  // log α (α = 0 becomes e^−69 ≈ 0: the state resets as in the recurrent form).
  const gamma = cumsum(split3(tf.log(tf.maximum(alpha, 1e-30))), 2); // [bh, n, m]
  const bc = split3(beta).expandDims(3);
  const incl = lowerMask(m, true);
  const decayMask = tf.exp(gamma.expandDims(3).sub(gamma.expandDims(2)).mul(incl)).mul(incl); // Γ [bh, n, m, m]
  const a = batchMatMul(kc.mul(bc), kc, false, true).mul(decayMask).mul(lowerMask(m, false));
  const tInv = unitLowerInverse(a);
  const eg = tf.exp(gamma).expandDims(3);
  const u = batchMatMul(tInv, vc.mul(bc)); // [bh, n, m, dv]
  const w = batchMatMul(tInv, kc.mul(bc).mul(eg)); // [bh, n, m, dk]
  const gLast = gamma.slice([0, 0, m - 1], [bh, n, 1]); // [bh, n, 1]
  const kd = kc.mul(tf.exp(gLast.sub(gamma)).expandDims(3));
  // GDN block: S' = e^{γ_m} S + K̃ᵀ(U − W S) = M S + B. Softmax block: S' = (e^{γ_m} or 1)·S.
  const eLast = tf.exp(gLast).expandDims(3); // [bh, n, 1, 1]
  const mGdn = tf.eye(dk).mul(eLast).sub(batchMatMul(kd, w, true, false)); // [bh, n, dk, dk]
  const bias = batchMatMul(kd, u, true, false); // [bh, n, dk, dv]
  const r = route.reshape([bh, n, 1, 1]);
  const keep = decay ? eLast : tf.onesLike(eLast);
  const mAll = mGdn.mul(tf.scalar(1).sub(r)).add(tf.eye(dk).mul(keep).mul(r));
  const bAll = bias.mul(tf.scalar(1).sub(r));
  const starts: tf.Tensor[] = [s0.reshape([bh, dk, dv])];
  for (let i = 0; i < n; i++) {
    const mi = mAll.slice([0, i, 0, 0], [bh, 1, dk, dk]).reshape([bh, dk, dk]);
    const bi = bAll.slice([0, i, 0, 0], [bh, 1, dk, dv]).reshape([bh, dk, dv]);
    starts.push(batchMatMul(mi, starts[i]!).add(bi));
  }
  const s = starts.pop()!.reshape([b, h, dk, dv]);
  const st = tf.stack(starts, 1); // [bh, n, dk, dv]
  const vNew = u.sub(batchMatMul(w, st));
  const o = batchMatMul(qc.mul(eg), st).add(batchMatMul(batchMatMul(qc, kc, false, true).mul(decayMask), vNew));
  return { output: o.reshape([b, h, n * m, dv]).slice([0, 0, 0, 0], [b, h, T, dv]), s };
}

export interface NatslRouteOptions {
  heads: number;
  blockSize: number;
}

/**
 * NAtS-L router: per block, logits = mean(x_block)·wScore with `wScore: [dModel, 2·heads]` laid out
 * '(h op)' (op 0 = softmax, 1 = GDN); a partial last block is averaged over its real length. Returns
 * logits `[b, heads, nBlocks, 2]` and route `[b, heads, nBlocks]` (float 1 = softmax, ties to softmax as
 * torch.max takes the first index). The route carries the straight-through gradient of
 * softmax(logits)[softmax op]: value onehot(argmax), gradient of the soft probability.
 */
export function natslRoute(x: tf.Tensor, wScore: tf.Tensor, options: NatslRouteOptions): { logits: tf.Tensor4D; route: tf.Tensor3D } {
  const fn = "natslRoute";
  if (options === undefined || options === null) throw new OptionError(`${fn}: options { heads, blockSize } are required, got none`);
  assertKnownOptions(fn, options, ["heads", "blockSize"]);
  assertRank(fn, "x", x, 3);
  assertRank(fn, "wScore", wScore, 2);
  const { heads, blockSize } = options;
  assertInteger(fn, "heads", heads, { min: 1 });
  assertInteger(fn, "blockSize", blockSize, { min: 1 });
  const [b, T, m] = x.shape as [number, number, number];
  if (wScore.shape[0] !== m || wScore.shape[1] !== 2 * heads) {
    throw new ShapeError(`${fn}: wScore must have shape [${m}, ${2 * heads}] (dModel, 2·heads), got ${shapeString(wScore.shape)}`);
  }
  if (T === 0) throw new ShapeError(`${fn}: x must have at least one token, got ${shapeString(x.shape)}`);
  return tf.tidy(() => {
    const n = Math.ceil(T / blockSize);
    const padded = n * blockSize > T ? x.pad([[0, 0], [0, n * blockSize - T], [0, 0]]) : x;
    const counts = tf.tensor1d(Array.from({ length: n }, (_, i) => Math.min(blockSize, T - i * blockSize))).reshape([1, n, 1]);
    const mean = padded.reshape([b, n, blockSize, m]).sum(2).div(counts);
    const logits = batchMatMul(mean, wScore).reshape([b, n, heads, 2]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
    return { logits, route: straightThrough(logits) as tf.Tensor3D };
  });
}

// Value: 1 where logit[softmax] ≥ logit[gdn]; gradient: that of p = softmax(logits)[0], dp/dl = p(1−p)·[1, −1].
export const straightThrough = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [logits, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([logits]);
  const [l0, l1] = tf.split(logits, 2, -1) as [tf.Tensor, tf.Tensor];
  const hard = tf.where(tf.greaterEqual(l0, l1), tf.scalar(1), tf.scalar(0)).squeeze([-1]);
  return {
    value: hard,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const p = tf.sigmoid(saved[0]!.slice([0, 0, 0, 0], [-1, -1, -1, 1]).sub(saved[0]!.slice([0, 0, 0, 1], [-1, -1, -1, 1])));
      const g = dy.expandDims(-1).mul(p).mul(tf.scalar(1).sub(p));
      return [tf.concat([g, g.neg()], -1)];
    },
  };
});
