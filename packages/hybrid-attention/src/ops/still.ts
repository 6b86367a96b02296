// STILL (Meng et al. 2026): self-saliency token selection + NP-Map linear attention in one layer.
// Per chunk of C tokens the topK most "self-reliant" tokens keep exact softmax attention for every later
// query; the rest are linearised once they are two chunks old. Math: research/hybrid.md §6 (official code).
import * as tf from "@tensorflow/tfjs";
import {
  ShapeError,
  OptionError,
  assertBoolean,
  assertBroadcastable,
  assertInteger,
  assertKnownOptions,
  assertNumber,
  assertOneOf,
  assertRank,
  batchMatMul,
  checkAttentionInputs,
  resolveScale,
  shapeString,
  topKIndices,
} from "@attnkit/core";

export type SaliencyVariant = "paper" | "code";

export interface StillSaliencyOptions {
  /** Window length C: each token is scored against the last C tokens including itself. */
  chunkSize: number;
  /** 'paper' = KL(a_diag ‖ a_nodiag) with ε; 'code' = the official smoothing (default 'paper'). */
  variant?: SaliencyVariant;
  /** Multiplies q·kᵀ; default dim^-0.5. */
  scale?: number | null;
  /** Smoothing ε (default 1e-8). */
  eps?: number;
}

const MASKED = -1e30;
const BIG = 3.4e38;

/** Host masks of the chunked window `[n, C, 2C]` (keys = previous chunk ⊕ current chunk). */
function windowMasks(n: number, C: number): { win: tf.Tensor3D; self: tf.Tensor3D; last: tf.Tensor3D } {
  const win = new Float32Array(n * C * 2 * C);
  const self = new Float32Array(n * C * 2 * C);
  const last = new Float32Array(n * C * 2 * C);
  for (let c = 0; c < n; c++)
    for (let i = 0; i < C; i++)
      for (let j = 0; j < 2 * C; j++) {
        const o = (c * C + i) * 2 * C + j;
        // key position (c−1)·C + j is in the window of query c·C + i iff i < j ≤ C + i, and exists iff ≥ 0.
        const inWindow = j > i && j <= C + i && (c > 0 || j >= C);
        win[o] = inWindow ? 1 : 0;
        self[o] = j === C + i ? 1 : 0;
        last[o] = inWindow && j % C === C - 1 ? 1 : 0;
      }
  const shape: [number, number, number] = [n, C, 2 * C];
  return { win: tf.tensor3d(win, shape), self: tf.tensor3d(self, shape), last: tf.tensor3d(last, shape) };
}

/** [b, h, T, d] → [b·h, n, C, d], zero-padded to n·C rows (rank 4: WebGPU kernels stop at rank 4). */
function chunked(x: tf.Tensor, n: number, C: number): tf.Tensor {
  const [b, h, T, d] = x.shape as [number, number, number, number];
  const padded = n * C > T ? x.pad([[0, 0], [0, 0], [0, n * C - T], [0, 0]]) : x;
  return padded.reshape([b * h, n, C, d]);
}

/** Self-saliency scores `[b, h, seq]` (token 0 has +∞: it has no other token to lean on). */
export function stillSaliency(q: tf.Tensor, k: tf.Tensor, options: StillSaliencyOptions): tf.Tensor3D {
  const fn = "stillSaliency";
  assertKnownOptions(fn, options, ["chunkSize", "variant", "scale", "eps"]);
  if (options === undefined || options === null) throw new OptionError(`${fn}: options.chunkSize is required, got no options`);
  const { dim, seqQ, seqK } = checkAttentionInputs(fn, q, k, k);
  if (seqQ !== seqK) throw new ShapeError(`${fn}: q and k must have the same length (self-attention), got ${shapeString(q.shape)} and ${shapeString(k.shape)}`);
  const C = options.chunkSize;
  assertInteger(fn, "chunkSize", C, { min: 1 });
  const variant = options.variant ?? "paper";
  assertOneOf(fn, "variant", variant, ["paper", "code"] as const);
  const scale = resolveScale(fn, options.scale, dim ** -0.5);
  const eps = options.eps ?? 1e-8;
  assertNumber(fn, "eps", eps, { min: 0, minExclusive: true });
  return tf.tidy(() => saliencyOf(q, k, C, variant, scale, eps));
}

export function saliencyOf(q: tf.Tensor, k: tf.Tensor, C: number, variant: SaliencyVariant, scale: number, eps: number): tf.Tensor3D {
  const [b, h, T] = q.shape as [number, number, number, number];
  const n = Math.ceil(T / C);
  const qc = chunked(q, n, C);
  const kc = chunked(k, n, C);
  const kPrev = tf.concat([tf.zerosLike(kc.slice([0, 0, 0, 0], [-1, 1, -1, -1])), kc.slice([0, 0, 0, 0], [-1, n - 1, -1, -1])], 1);
  const keys = tf.concat([kPrev, kc], 2);
  const s = batchMatMul(qc.mul(scale), keys, false, true); // [b·h, n, C, 2C]
  const { win, self, last } = windowMasks(n, C);
  // Arithmetic masking: WebGPU has no rank-5 `where`.
  const masked = (keep: tf.Tensor) => s.add(keep.sub(1).mul(-MASKED));
  const diag = tf.softmax(masked(win)).mul(win);
  const others = win.sub(self).mul(win);
  const noDiag = tf.softmax(masked(others)).mul(others); // rows with no other key (token 0) come out zero
  let score: tf.Tensor;
  if (variant === "paper") {
    score = diag.mul(tf.log(diag.add(eps).div(noDiag.add(eps)))).sum(-1);
  } else {
    // Official smoothing over the C rolling columns; column C−1 of a2 is overwritten by 1/C + ε.
    const a1 = diag.add(eps).div(1 + C * eps);
    const a2 = last.mul(1 / C + eps).add(tf.scalar(1).sub(last).mul(noDiag.add(eps).div(1 + C * eps + 1 / C)));
    score = win.mul(a1.mul(tf.log(a1.div(a2.add(eps))))).sum(-1);
    // Chunk 0's missing previous-chunk columns still enter the code's sum with a_diag = a_nodiag = 0.
    const a1m = eps / (1 + C * eps);
    const plain = a1m * Math.log(a1m / (eps / (1 + C * eps + 1 / C) + eps));
    const lastCol = a1m * Math.log(a1m / (1 / C + 2 * eps));
    const extra = new Float32Array(n * C);
    for (let i = 0; i < C - 1; i++) extra[i] = (C - 2 - i) * plain + lastCol;
    score = score.add(tf.tensor(extra, [n, C]));
  }
  const flat = score.reshape([b, h, n * C]).slice([0, 0, 0], [b, h, T]);
  const first = tf.tensor1d(Array.from({ length: T }, (_, t) => (t === 0 ? 1 : 0))).reshape([1, 1, T]);
  return tf.where(tf.greater(first, 0), tf.scalar(Infinity), flat) as tf.Tensor3D;
}

/** 0/1 float `[b, h, T]`: the topK most salient tokens of each chunk (ties to the lower index). */
function selectSalient(saliency: tf.Tensor, C: number, topK: number): tf.Tensor {
  const [b, h, T] = saliency.shape as [number, number, number];
  if (topK === 0) return tf.zeros([b, h, T]);
  if (topK >= Math.min(C, T)) return tf.ones([b, h, T]);
  const n = Math.ceil(T / C);
  const clamped = tf.minimum(saliency, BIG);
  const padded = n * C > T ? clamped.pad([[0, 0], [0, 0], [0, n * C - T]]) : clamped;
  const valid = tf.tensor1d(Array.from({ length: n * C }, (_, t) => (t < T ? 1 : 0))).reshape([n, C]);
  const idx = topKIndices(padded.reshape([b * h, n, C]), topK, { valid }); // −1 in a short last chunk
  // One-hot by comparison (−1 matches nothing); not tf.oneHot, whose int32 output WebGPU mis-casts.
  // Reduced over the last axis: WebGPU's transpose of a cast int/bool tensor reads raw int bits.
  const hit = tf.equal(idx.reshape([b * h * n, 1, topK]), tf.range(0, C, 1, "int32").reshape([1, C, 1]));
  const picked = tf.where(hit, tf.scalar(1), tf.scalar(0)).sum(-1);
  return picked.reshape([b, h, n * C]).slice([0, 0, 0], [b, h, T]);
}

// The selection is a routing decision: no gradient. Running it inside customGrad keeps topk and the
// comparisons off the tape (TF.js has no gradient for them) while values still flow through the mask.
export const selectDetached = (C: number, topK: number) =>
  tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const saliency = args[0] as tf.Tensor;
    return { value: selectSalient(saliency, C, topK), gradFunc: () => [tf.zerosLike(saliency)] };
  });

export interface StillAttentionOptions {
  /** NP-Map features of the queries `[b, h, seq, f]`. */
  fq: tf.Tensor;
  /** NP-Map features of the keys `[b, h, seq, f]`. */
  fk: tf.Tensor;
  /** Chunk length C (the official default is 64). */
  chunkSize: number;
  /** Salient tokens kept per chunk (official: C/16). */
  topK: number;
  /** Saliency variant (default 'paper'). */
  saliency?: SaliencyVariant;
  /** Multiplies the linear numerator only (official: sigmoid(W_g x)); broadcastable to `[b, h, seq, dimV]`. */
  gate?: tf.Tensor;
  /** Reproduce the official prefill's C zero keys (score 0, value 0) seen by chunk 0 (default false). */
  phantomFirstChunk?: boolean;
  scale?: number | null;
  /** Added to the joint denominator (default 1e-6). */
  eps?: number;
  returnMask?: boolean;
  /** Query rows processed per block (default: a ~16 MB score block); the result does not depend on it. Added option. */
  blockRows?: number;
}

export interface StillAttentionWithMask {
  output: tf.Tensor4D;
  /** bool `[b, h, seq]`: tokens chosen as salient in their chunk. */
  salientMask: tf.Tensor3D;
  saliency: tf.Tensor3D;
}

/** Host masks `[r1 − r0, r1]` for queries r0…r1−1 over keys 0…r1−1: causal keys of this or the previous chunk (near), older causal keys (far). */
function chunkMasks(r0: number, r1: number, C: number): { near: tf.Tensor2D; far: tf.Tensor2D; firstChunk: tf.Tensor2D } {
  const rows = r1 - r0;
  const near = new Float32Array(rows * r1);
  const far = new Float32Array(rows * r1);
  const first = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const t = r + r0;
    const ct = Math.floor(t / C);
    first[r] = ct === 0 ? 1 : 0;
    for (let j = 0; j <= t; j++) {
      if (ct - Math.floor(j / C) <= 1) near[r * r1 + j] = 1;
      else far[r * r1 + j] = 1;
    }
  }
  return { near: tf.tensor2d(near, [rows, r1]), far: tf.tensor2d(far, [rows, r1]), firstChunk: tf.tensor2d(first, [rows, 1]) };
}

/**
 * STILL hybrid attention. Query t of chunk c attends exactly (softmax) to the salient tokens of chunks
 * ≤ c−2, all of chunk c−1 and the causal part of chunk c, and linearly (φ(q)·φ(k)) to the other tokens
 * of chunks ≤ c−2; both share one denominator, and the linear terms are not rescaled by exp(−max)
 * (the official LoLCATs convention). Differentiable in q, k, v, fq, fk and gate; the selection is not.
 */
export function stillAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: StillAttentionOptions & { returnMask: true }): StillAttentionWithMask;
export function stillAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: StillAttentionOptions): tf.Tensor4D;
export function stillAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: StillAttentionOptions): tf.Tensor4D | StillAttentionWithMask {
  const fn = "stillAttention";
  if (options === undefined || options === null) throw new OptionError(`${fn}: options { fq, fk, chunkSize, topK } are required, got none`);
  assertKnownOptions(fn, options, ["fq", "fk", "chunkSize", "topK", "saliency", "gate", "phantomFirstChunk", "scale", "eps", "returnMask", "blockRows"]);
  const dims = checkAttentionInputs(fn, q, k, v);
  const { batch, heads, seqQ: T, seqK, dim, dimV } = dims;
  if (T !== seqK) throw new ShapeError(`${fn}: q and k must have the same length (self-attention), got ${shapeString(q.shape)} and ${shapeString(k.shape)}`);
  const { fq, fk, gate } = options;
  assertRank(fn, "fq", fq, 4);
  assertRank(fn, "fk", fk, 4);
  const f = fq.shape[3];
  for (const [name, t] of [["fq", fq], ["fk", fk]] as const) {
    if (t.shape[0] !== batch || t.shape[1] !== heads || t.shape[2] !== T || t.shape[3] !== f || f === 0) {
      throw new ShapeError(`${fn}: ${name} must have shape [${batch}, ${heads}, ${T}, f] (same f for fq and fk), got ${shapeString(t.shape)}`);
    }
  }
  const C = options.chunkSize;
  assertInteger(fn, "chunkSize", C, { min: 1 });
  assertInteger(fn, "topK", options.topK, { min: 0, max: C });
  const variant = options.saliency ?? "paper";
  assertOneOf(fn, "saliency", variant, ["paper", "code"] as const);
  const phantom = options.phantomFirstChunk ?? false;
  assertBoolean(fn, "phantomFirstChunk", phantom);
  const returnMask = options.returnMask ?? false;
  assertBoolean(fn, "returnMask", returnMask);
  const scale = resolveScale(fn, options.scale, dim ** -0.5);
  const eps = options.eps ?? 1e-6;
  assertNumber(fn, "eps", eps, { min: 0 });
  if (gate !== undefined) {
    assertRank(fn, "gate", gate, [1, 2, 3, 4]);
    assertBroadcastable(fn, "gate", gate, [batch, heads, T, dimV]);
  }
  const { blockRows } = options;
  if (blockRows !== undefined) assertInteger(fn, "blockRows", blockRows, { min: 1 });
  return tf.tidy(() => {
    // The selection uses the saliency variant's own ε (1e-8), as the official code does.
    const saliency = saliencyOf(q, k, C, variant, scale, 1e-8);
    const salient = selectDetached(C, options.topK)(saliency);
    const output = stillCore(q, k, v, fq, fk, salient, { chunkSize: C, scale, eps, phantom, ...(gate ? { gate } : {}), ...(blockRows !== undefined ? { blockRows } : {}) });
    if (!returnMask) return output;
    return { output, salientMask: tf.greater(salient, 0) as tf.Tensor3D, saliency };
  });
}

export interface StillCoreOptions {
  chunkSize: number;
  scale: number;
  eps: number;
  phantom: boolean;
  gate?: tf.Tensor;
  /** Position of the first query: queries are the last seq − offset rows (for the generation cache). */
  offset?: number;
  /** Query rows per block (default: a ~16 MB score block). */
  blockRows?: number;
}

/**
 * The hybrid read-out for a given 0/1 salient mask `[b, h, seqK]` (float). Queries `[b, h, seqK − offset, d]`
 * sit at the end of the keys. Work is O(seq²) like the dense definition it follows (a salient-key gather
 * would make it linear); memory stays O(blockRows·seq).
 */
export function stillCore(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, fq: tf.Tensor, fk: tf.Tensor, salient: tf.Tensor, o: StillCoreOptions): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, T] = k.shape as [number, number, number, number];
    const offset = o.offset ?? 0;
    // Query blocks keep the [rows, keys] score block near 4M elements; each block only reads the keys up
    // to its last query (causal), so no [seq, seq] tensor is ever built.
    const rowsPerBlock = o.blockRows ?? Math.max(1, Math.floor((1 << 22) / Math.max(1, b * h * T)));
    const outs: tf.Tensor[] = [];
    for (let r0 = offset; r0 < T; r0 += rowsPerBlock) {
      const r1 = Math.min(T, r0 + rowsPerBlock);
      const rows = (x: tf.Tensor) => x.slice([0, 0, r0 - offset, 0], [-1, -1, r1 - r0, -1]);
      const keys = (x: tf.Tensor) => (r1 === T ? x : x.slice([0, 0, 0, 0], [-1, -1, r1, -1]));
      const g = o.gate;
      const gate = g && g.rank >= 2 && g.shape[g.rank - 2] !== 1 ? g.slice(g.shape.map((_, i) => (i === g.rank - 2 ? r0 - offset : 0)), g.shape.map((d, i) => (i === g.rank - 2 ? r1 - r0 : d))) : g;
      outs.push(stillBlock(rows(q), keys(k), keys(v), rows(fq), keys(fk), r1 === T ? salient : salient.slice([0, 0, 0], [-1, -1, r1]), r0, r1, o, gate));
    }
    return (outs.length === 1 ? outs[0]! : tf.concat(outs, 2)) as tf.Tensor4D;
  });
}

function stillBlock(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, fq: tf.Tensor, fk: tf.Tensor, salient: tf.Tensor, r0: number, r1: number, o: StillCoreOptions, gate: tf.Tensor | undefined): tf.Tensor {
  const { near, far, firstChunk } = chunkMasks(r0, r1, o.chunkSize);
  const sal = salient.expandDims(2); // [b, h, 1, keys]
  const exactW = near.add(far.mul(sal));
  const linearW = far.mul(tf.scalar(1).sub(sal));
  const s = batchMatMul(q.mul(o.scale), k, false, true);
  // m is part of the result (the linear terms are not rescaled by it), so its gradient is kept.
  // exactW is 0/1; arithmetic masking (no comparison) keeps the tape free of gradient-less ops.
  let m = tf.max(s.add(exactW.sub(1).mul(-MASKED)), -1, true);
  if (o.phantom) m = tf.where(tf.greater(firstChunk, 0), tf.maximum(m, 0), m);
  // Exact keys never score above m; every other key (linear, or after the query) has weight 0, and its
  // exponent is capped at 0 so that a large score cannot overflow to inf (inf · 0 = NaN, forward and back).
  const pe = exactW.mul(tf.exp(tf.minimum(s.sub(m), 0)));
  const pl = linearW.mul(batchMatMul(fq, fk, false, true));
  let den = pe.sum(-1, true).add(pl.sum(-1, true)).add(o.eps);
  if (o.phantom) den = den.add(firstChunk.mul(tf.exp(m.neg())).mul(o.chunkSize));
  let lin = batchMatMul(pl, v);
  if (gate) lin = lin.mul(gate);
  return batchMatMul(pe, v).add(lin).div(den);
}
