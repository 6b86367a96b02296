// Inference-time landmark attention with top-k block retrieval (official `mem_cache.py` / `llama_mem.py`).
// The first `memoryLength` positions are memory (complete blocks, each closed by its landmark); the rest is
// the local chunk. Every query scores the memory landmarks, keeps the top-k blocks, and attends with the
// grouped softmax over [selected blocks ++ local keys up to itself]: a retrieved block stays gated by its
// landmark, and earlier blocks inside the chunk stay reachable through theirs (lm_benchmark semantics).
import * as tf from "@tensorflow/tfjs";
import { OptionError, ShapeError, assertBoolean, assertInteger, assertKnownOptions, assertOneOf, batchMatMul, checkAttentionInputs, shapeString, topKIndices, withoutGradient } from "@attnkit/core";
import { landmarkCommon, flat } from "./landmark-attention";
import { localGroupedLogits, rotateAt, rowsPerBlock } from "./layout";
import { gatherBlocks, takeRange, takeRows } from "./take";

export type LandmarkSelection = "per-token-and-head" | "max-over-heads" | "max-over-tokens";
export const SELECTIONS: readonly LandmarkSelection[] = ["per-token-and-head", "max-over-heads", "max-over-tokens"];

export interface LandmarkRetrievalOptions {
  blockSize: number;
  /** Memory blocks retrieved per query (0 = attend to the local chunk only). */
  topK: number;
  /** Positions 0..memoryLength−1 are memory; a multiple of blockSize + 1. Queries are the positions after it. */
  memoryLength: number;
  /**
   * 'per-token-and-head' (default): each (token, head) ranks raw landmark logits; 'max-over-heads':
   * per-head softmax over memory landmarks, max over heads (heads of a token share blocks);
   * 'max-over-tokens': per-head softmax, max over the chunk's tokens (tokens share blocks per head).
   */
  selection?: LandmarkSelection;
  scale?: number | null;
  /** RoPE base; positions follow the official "stingy" mapping of `llama_mem.py`. */
  ropeBase?: number | null;
  /** Also return the selected blocks and the ranking scores. */
  returnSelection?: boolean;
}

export interface LandmarkRetrievalResult {
  /** `[b, h, seq − memoryLength, dv]`. */
  output: tf.Tensor4D;
  /** int32 `[b, h, seq − memoryLength, min(topK, memory blocks)]`, ascending block ids. */
  selection: tf.Tensor4D;
  /** `[b, h, seq − memoryLength, memory blocks]`: the scores blocks were ranked by (broadcast over the shared axis). */
  scores: tf.Tensor4D;
}

const NAME = "landmarkRetrievalAttention";
const OPTION_KEYS = ["blockSize", "topK", "memoryLength", "selection", "scale", "ropeBase", "returnSelection"];

export interface RetrievalPlan {
  blockSize: number;
  topK: number;
  memoryLength: number;
  selection: LandmarkSelection;
  scale: number;
  ropeBase: number | null;
}

/** Validates the retrieval options against `[b, h, seq, d]` inputs. */
export function retrievalPlan(fn: string, q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LandmarkRetrievalOptions, knownKeys = OPTION_KEYS): RetrievalPlan {
  assertKnownOptions(fn, options, knownKeys);
  const dims = checkAttentionInputs(fn, q, k, v);
  const { blockSize, scale, ropeBase } = landmarkCommon(fn, dims, options);
  assertInteger(fn, "topK", options.topK, { min: 0 });
  assertInteger(fn, "memoryLength", options.memoryLength, { min: 0 });
  if (options.memoryLength % (blockSize + 1) !== 0) {
    throw new OptionError(`${fn}: memoryLength must be a multiple of blockSize + 1 = ${blockSize + 1} (memory holds complete blocks, each closed by its landmark), got ${options.memoryLength}`);
  }
  if (options.memoryLength > dims.seqK) throw new OptionError(`${fn}: memoryLength must be ≤ the key length ${dims.seqK}, got ${options.memoryLength}`);
  const selection = options.selection ?? "per-token-and-head";
  assertOneOf(fn, "selection", selection, SELECTIONS);
  if (options.returnSelection !== undefined) assertBoolean(fn, "returnSelection", options.returnSelection);
  return { blockSize, topK: options.topK, memoryLength: options.memoryLength, selection, scale, ropeBase };
}

interface Sizes {
  B: number;
  H: number;
  C: number;
  D: number;
  T: number;
  Dv: number;
  n: number;
  nMem: number;
  kk: number;
  L: number;
  /** Official stingy positions: the k retrieved blocks take the k + 1 block slots before the chunk. */
  prefix: number;
  /** First of the k most recent memory blocks. */
  recentFrom: number;
}

function sizesOf(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, plan: RetrievalPlan): Sizes {
  const [B, H, C, D] = q.shape as [number, number, number, number];
  const T = k.shape[2]!;
  const n = plan.blockSize + 1;
  const nMem = plan.memoryLength / n;
  const kk = Math.min(plan.topK, nMem);
  return { B, H, C, D, T, Dv: v.shape[3]!, n, nMem, kk, L: T - plan.memoryLength, prefix: plan.memoryLength - (kk + 1) * n, recentFrom: nMem - kk };
}

/** Scaled queries at their true positions (rotated when ropeBase is set). */
function scaledQueries(q: tf.Tensor, z: Sizes, plan: RetrievalPlan): tf.Tensor {
  const qs = q.mul(plan.scale);
  return plan.ropeBase === null ? qs : rotateAt(qs, tf.range(z.T - z.C, z.T), plan.ropeBase);
}

/** Scores the memory blocks by their landmark logits: ranking scores (reduced per mode) and their broadcast copy. */
function rankBlocks(q: tf.Tensor, k: tf.Tensor, z: Sizes, plan: RetrievalPlan): { rank: tf.Tensor; scores: tf.Tensor4D } {
  const { B, H, C, D, n, nMem, prefix, recentFrom } = z;
  const bs = plan.blockSize;
  const qs = scaledQueries(q, z, plan);
  let landmarks = nMem > 0 ? takeRows(k, Array.from({ length: nMem }, (_, m) => m * n + bs)) : tf.zeros([B, H, 0, D]);
  if (plan.ropeBase !== null && nMem > 0) {
    // Scoring positions (llama_mem.py L355–420): all old blocks share the first slot.
    const slots = Array.from({ length: nMem }, (_, m) => prefix + (m < recentFrom ? 0 : m - recentFrom + 1) * n + bs);
    landmarks = rotateAt(landmarks, tf.tensor1d(slots), plan.ropeBase);
  }
  const logits = nMem > 0 ? batchMatMul(qs, landmarks, false, true) : tf.zeros([B, H, C, 0]);
  let rank: tf.Tensor = logits;
  if (plan.selection === "max-over-heads" && nMem > 0) rank = tf.softmax(logits).max(1, true);
  if (plan.selection === "max-over-tokens" && nMem > 0) rank = tf.softmax(logits).max(2, true);
  return { rank, scores: tf.broadcastTo(rank, [B, H, C, nMem]) as tf.Tensor4D };
}

/** Top-k blocks of the ranking scores, in ascending block order (the official code sorts them by index). */
function selectBlocks(rank: tf.Tensor, z: Sizes): tf.Tensor4D {
  const { B, H, C, kk } = z;
  const top = topKIndices(rank, kk);
  const sorted = kk > 0 ? tf.topk(top.cast("float32").neg(), kk).values.neg().cast("int32") : top;
  return tf.broadcastTo(sorted, [B, H, C, kk]) as tf.Tensor4D;
}

/** Output `[b, h, c, dv]` for a given selection: one softmax over grouped logits of [selected blocks ++ local keys]. */
function attendSelected(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, selection: tf.Tensor, z: Sizes, plan: RetrievalPlan): tf.Tensor4D {
  const { B, H, C, D, T, Dv, n, kk, L, prefix, recentFrom } = z;
  const { blockSize: bs, memoryLength: M, ropeBase } = plan;
  const offset = L - C; // local position of the first query
  const qs = scaledQueries(q, z, plan);
  let local = takeRange(k, M, L);
  if (ropeBase !== null) local = rotateAt(local, tf.range(M, T), ropeBase);
  const G = B * H;
  const qf = flat(qs);
  const kf = flat(local);
  const vf = flat(takeRange(v, M, L));
  const selFlat = selection.reshape([G, C, kk]);
  // Whole blocks as rows of a free reshape (padding the sequence to whole blocks when needed).
  const nb = Math.ceil(T / n);
  const asBlocks = (x: tf.Tensor, width: number) => (nb * n > T ? x.pad([[0, 0], [0, 0], [0, nb * n - T], [0, 0]]) : x).reshape([G, nb, n * width]);
  const blockRows = kk > 0 ? asBlocks(k, D) : null;
  const blockVals = kk > 0 ? asBlocks(v, Dv) : null;
  // Query rows per step: bounded by the gathered blocks [G·rows, kk, n, D] (64 MB of float32).
  const rows = Math.max(1, Math.min(rowsPerBlock(G, L + kk * n, C), Math.floor((1 << 24) / Math.max(1, G * kk * n * Math.max(D, Dv)))));
  const outs: tf.Tensor[] = [];
  for (let t0 = 0; t0 < C; t0 += rows) {
    const r = Math.min(rows, C - t0);
    const qRows = qf.slice([0, t0, 0], [-1, r, -1]);
    const part = localGroupedLogits(qRows, kf, vf, offset + t0, bs, batchMatMul);
    if (kk === 0) {
      outs.push(batchMatMul(tf.softmax(part.logits), part.values));
      continue;
    }
    const sel = selFlat.slice([0, t0, 0], [-1, r, -1]);
    const index = sel.reshape([G, r * kk]);
    // Rank ≤ 4 throughout: TF.js's WebGPU shaders have no rank-5 coordinates.
    let keys = gatherBlocks(blockRows!, index).reshape([G * r, kk, n, D]);
    const vals = gatherBlocks(blockVals!, index).reshape([G * r, kk, n, Dv]);
    if (ropeBase !== null) {
      // Attention positions: selected block in slot order s sits at slot s + 1 if it is one of the k
      // most recent blocks, else at slot s; all positions are exact when every block is retrieved.
      const slot = tf.range(0, kk, 1, "int32").reshape([1, 1, kk]).add(tf.greaterEqual(sel, recentFrom).cast("int32"));
      const pos = slot.mul(n).add(prefix).reshape([G * r, kk, 1]).add(tf.range(0, n, 1, "int32").reshape([1, 1, n]));
      keys = rotateAt(keys, pos, ropeBase);
    }
    // Per-query blocks: products as broadcast multiply-and-sum (kk·n keys per query, no dense pass).
    const s = qRows.reshape([G * r, 1, 1, D]).mul(keys).sum(-1); // [G·r, kk, n]
    const tok = s.slice([0, 0, 0], [-1, -1, bs]);
    const lm = s.slice([0, 0, bs], [-1, -1, 1]);
    const m = tok.max(-1, true);
    const lse = m.add(tok.sub(m).exp().sum(-1, true).log());
    const memLogits = tok.add(lm.sub(lse)).reshape([G, r, kk * bs]);
    const w = tf.softmax(tf.concat([memLogits, part.logits], -1));
    // Landmarks carry no value: a zero weight in their slot (cheaper than slicing them out of vals).
    const wMem = w.slice([0, 0, 0], [-1, -1, kk * bs]).reshape([G * r, kk, bs]).pad([[0, 0], [0, 0], [0, 1]]);
    const wLocal = w.slice([0, 0, kk * bs], [-1, -1, -1]);
    // One batched product per query row (not core's batchMatMul: splitting into G·r tiny 2-D products
    // costs more than TF.js's batched kernel here, and a sum over non-last axes would transpose vals).
    const memOut = tf.matMul(wMem.reshape([G * r, 1, kk * n]), vals.reshape([G * r, kk * n, Dv])).reshape([G, r, Dv]);
    outs.push(memOut.add(batchMatMul(wLocal, part.values)));
  }
  return (outs.length === 1 ? outs[0]! : tf.concat(outs, 1)).reshape([B, H, C, Dv]) as tf.Tensor4D;
}

/**
 * Retrieval attention of `q: [b, h, c, d]` (the last c key positions) over `k, v: [b, h, seq, ·]`.
 * Returns output, selection and ranking scores (the caller disposes what it does not keep).
 * The output's gradient flows through the selected blocks; the selection itself is a constant.
 */
export function retrieve(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, plan: RetrievalPlan): LandmarkRetrievalResult {
  const z = sizesOf(q, k, v, plan);
  return tf.tidy(() => {
    const { rank, scores } = rankBlocks(q, k, z, plan);
    const selection = withoutGradient(() => selectBlocks(rank, z)) as tf.Tensor4D;
    const output = attendSelected(q, k, v, selection, z, plan);
    return { output, selection, scores };
  });
}

/**
 * Inference with top-k block retrieval. `q, k: [b, h, seq, d]`, `v: [b, h, seq, dv]`; queries are the
 * positions from `memoryLength` on, so the output is `[b, h, seq − memoryLength, dv]`. With
 * `returnSelection`, returns `{ output, selection, scores }`. Differentiable with respect to q, k and v
 * through the selected blocks (the selection itself is not differentiated).
 */
export function landmarkRetrievalAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LandmarkRetrievalOptions & { returnSelection?: false }): tf.Tensor4D;
export function landmarkRetrievalAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LandmarkRetrievalOptions & { returnSelection: true }): LandmarkRetrievalResult;
export function landmarkRetrievalAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LandmarkRetrievalOptions): tf.Tensor4D | LandmarkRetrievalResult;
export function landmarkRetrievalAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: LandmarkRetrievalOptions): tf.Tensor4D | LandmarkRetrievalResult {
  const plan = retrievalPlan(NAME, q, k, v, options);
  const T = k.shape[2]!;
  if (q.shape[2] !== T) throw new ShapeError(`${NAME}: q must cover the same positions as k (queries are taken from memoryLength on), got q ${shapeString(q.shape)} and k ${shapeString(k.shape)}`);
  if (plan.memoryLength === T) throw new OptionError(`${NAME}: memoryLength must leave at least one query position, got memoryLength ${plan.memoryLength} with seq ${T}`);
  return tf.tidy(() => {
    const chunk = takeRange(q, plan.memoryLength, T - plan.memoryLength);
    const result = retrieve(chunk, k, v, plan);
    if (options.returnSelection) return result as unknown as tf.Tensor;
    return result.output;
  }) as tf.Tensor4D | LandmarkRetrievalResult;
}
