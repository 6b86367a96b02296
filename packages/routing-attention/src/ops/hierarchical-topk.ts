// HISA two-stage token selector and the flat DSA-style indexer it approximates.
// Stage 1 ranks blocks by the score against each block's mean key; forced blocks (first and current
// when causal, first and last otherwise) count inside topBlocks, as in the official TileLang kernel
// (the paper's Algorithm 1 adds them on top; we follow the code). Stage 2 ranks the tokens of the
// chosen blocks. Selection is not differentiable; it returns indices only.
import * as tf from "@tensorflow/tfjs";
import {
  OptionError,
  ShapeError,
  assertBoolean,
  assertFloat,
  assertInteger,
  assertKnownOptions,
  assertRank,
  assertShape,
  shapeString,
  topKIndices,
} from "@attnkit/core";
import { blockMeans, padIndices, sortAscending } from "./common";
import { indexScores, rowsPerChunk } from "./index-score";

export interface FlatTopKOptions {
  topTokens: number;
  /** Default true: key s is eligible for query t iff s ≤ t. */
  causal?: boolean;
  /** DSA indexer weights `[b, seq, heads]`; k then has 1 (or heads) heads and one selection is shared. */
  weights?: tf.Tensor;
}

export interface HierarchicalTopKOptions extends FlatTopKOptions {
  blockSize: number;
  topBlocks: number;
  /** Keep the first and the current (causal) or last (non-causal) block; default = causal. */
  forceSinkLocal?: boolean;
  /** Also return the chosen blocks `[b, h or 1, seq, topBlocks]`, ascending, −1 padded. */
  returnBlocks?: boolean;
}

interface Checked {
  batch: number;
  heads: number;
  seq: number;
  causal: boolean;
  weights: tf.Tensor | null;
}

function checkInputs(fn: string, q: tf.Tensor, k: tf.Tensor, options: FlatTopKOptions): Checked {
  assertRank(fn, "q", q, 4);
  assertRank(fn, "k", k, 4);
  assertFloat(fn, "q", q);
  assertFloat(fn, "k", k);
  const [batch, heads, seq, dim] = q.shape as [number, number, number, number];
  const weights = options.weights ?? null;
  const keyHeadsOk = weights === null ? k.shape[1] === heads : k.shape[1] === 1 || k.shape[1] === heads;
  if (k.shape[0] !== batch || !keyHeadsOk || k.shape[2] !== seq || k.shape[3] !== dim) {
    const want = weights === null ? `[${batch}, ${heads}, ${seq}, ${dim}]` : `[${batch}, 1 or ${heads}, ${seq}, ${dim}]`;
    throw new ShapeError(`${fn}: k must have shape ${want} to match q ${shapeString(q.shape)}, got ${shapeString(k.shape)}`);
  }
  if (weights !== null) {
    assertRank(fn, "weights", weights, 3);
    assertShape(fn, "weights", weights, [batch, seq, heads]);
  }
  assertInteger(fn, "topTokens", options.topTokens, { min: 1 });
  const causal = options.causal ?? true;
  assertBoolean(fn, "causal", causal);
  return { batch, heads, seq, causal, weights };
}

function rowPositions(t0: number, t1: number): tf.Tensor {
  return tf.range(t0, t1, 1, "int32").reshape([-1, 1]);
}

/** Flat indexer: the topTokens best eligible keys per query, ascending, −1 padded → `[b, h or 1, seq, topTokens]`. */
export function flatTopK(q: tf.Tensor, k: tf.Tensor, options: FlatTopKOptions): tf.Tensor4D {
  const NAME = "flatTopK";
  if (options === undefined || options === null) throw new OptionError(`${NAME}: options with topTokens are required`);
  assertKnownOptions(NAME, options, ["topTokens", "causal", "weights"]);
  const { batch, heads, seq, causal, weights } = checkInputs(NAME, q, k, options);
  const take = Math.min(options.topTokens, seq);
  return tf.tidy(() => {
    const rows = rowsPerChunk(batch, heads, seq);
    const parts: tf.Tensor[] = [];
    for (let t0 = 0; t0 < seq; t0 += rows) {
      const t1 = Math.min(seq, t0 + rows);
      const scores = indexScores(q.slice([0, 0, t0, 0], [-1, -1, t1 - t0, -1]), k, weights && weights.slice([0, t0, 0], [-1, t1 - t0, -1]));
      const valid = causal ? tf.lessEqual(tf.range(0, seq, 1, "int32").reshape([1, -1]), rowPositions(t0, t1)) : undefined;
      parts.push(sortAscending(topKIndices(scores, take, valid ? { valid } : {}), seq));
    }
    return padIndices(parts.length === 1 ? parts[0]! : tf.concat(parts, 2), options.topTokens) as tf.Tensor4D;
  });
}

/** Gathers `x[..., cols]` per row: `x: [..., n]`, `cols: [..., m]` (in range) → `[..., m]`. */
function gatherLast(x: tf.Tensor, cols: tf.Tensor): tf.Tensor {
  const n = x.shape[x.rank - 1]!;
  const m = cols.shape[cols.rank - 1]!;
  const rows = x.size / n;
  const base = tf.range(0, rows * n, n, "int32").reshape([rows, 1]);
  const flat = cols.reshape([rows, m]).add(base).reshape([-1]);
  return tf.gather(x.reshape([-1]), flat).reshape(cols.shape);
}

export function hierarchicalTopK(q: tf.Tensor, k: tf.Tensor, options: HierarchicalTopKOptions & { returnBlocks: true }): { indices: tf.Tensor4D; blocks: tf.Tensor4D };
export function hierarchicalTopK(q: tf.Tensor, k: tf.Tensor, options: HierarchicalTopKOptions): tf.Tensor4D;
export function hierarchicalTopK(q: tf.Tensor, k: tf.Tensor, options: HierarchicalTopKOptions): tf.Tensor4D | { indices: tf.Tensor4D; blocks: tf.Tensor4D } {
  const NAME = "hierarchicalTopK";
  if (options === undefined || options === null) throw new OptionError(`${NAME}: options with blockSize, topBlocks and topTokens are required`);
  assertKnownOptions(NAME, options, ["blockSize", "topBlocks", "topTokens", "causal", "weights", "forceSinkLocal", "returnBlocks"]);
  const { batch, heads, seq, causal, weights } = checkInputs(NAME, q, k, options);
  assertInteger(NAME, "blockSize", options.blockSize, { min: 1 });
  assertInteger(NAME, "topBlocks", options.topBlocks, { min: 1 });
  const force = options.forceSinkLocal ?? causal;
  assertBoolean(NAME, "forceSinkLocal", force);
  const returnBlocks = options.returnBlocks ?? false;
  assertBoolean(NAME, "returnBlocks", returnBlocks);
  const { blockSize, topBlocks, topTokens } = options;
  const nBlocks = Math.ceil(seq / blockSize);
  const takeBlocks = Math.min(topBlocks, nBlocks);
  const result = tf.tidy(() => {
    const means = blockMeans(k, blockSize);
    const rows = rowsPerChunk(batch, heads, seq);
    const tokenParts: tf.Tensor[] = [];
    const blockParts: tf.Tensor[] = [];
    const blockIds = tf.range(0, nBlocks, 1, "int32").reshape([1, -1]);
    for (let t0 = 0; t0 < seq; t0 += rows) {
      const t1 = Math.min(seq, t0 + rows);
      const qc = q.slice([0, 0, t0, 0], [-1, -1, t1 - t0, -1]);
      const wc = weights && weights.slice([0, t0, 0], [-1, t1 - t0, -1]);
      // Stage 1: blocks.
      const own = tf.floorDiv(rowPositions(t0, t1), tf.scalar(blockSize, "int32"));
      let blockScores = indexScores(qc, means, wc);
      const eligible = causal ? tf.lessEqual(blockIds, own) : undefined;
      if (force) {
        const last = causal ? own : tf.scalar(nBlocks - 1, "int32");
        const forced = tf.logicalOr(tf.equal(blockIds, 0), tf.equal(blockIds, last));
        // A large finite value, not +∞: TF.js's topk compares by subtraction, and ∞ − ∞ breaks the lower-index tie rule.
        blockScores = tf.where(forced, tf.scalar(3e38), blockScores);
      }
      const blocks = sortAscending(topKIndices(blockScores, takeBlocks, eligible ? { valid: eligible } : {}), nBlocks);
      blockParts.push(blocks);
      // Stage 2: tokens of the chosen blocks, in ascending token order (so ties go to the lower index).
      // Rank 4 throughout: WebGPU's tile of rank ≥ 5 falls back to a synchronous read.
      const slot = tf.range(0, takeBlocks * blockSize, 1, "int32");
      const repeated = tf.gather(blocks, tf.floorDiv(slot, tf.scalar(blockSize, "int32")), 3);
      const blockOk = tf.greaterEqual(repeated, 0);
      const cols = repeated.mul(tf.scalar(blockSize, "int32")).add(tf.mod(slot, tf.scalar(blockSize, "int32")));
      let ok = tf.logicalAnd(blockOk, tf.less(cols, seq));
      if (causal) ok = tf.logicalAnd(ok, tf.lessEqual(cols, rowPositions(t0, t1)));
      const safeCols = tf.where(ok, cols, tf.zerosLike(cols));
      const scores = indexScores(qc, k, wc);
      const candidate = gatherLast(scores, safeCols);
      const take = Math.min(topTokens, takeBlocks * blockSize);
      const slots = topKIndices(candidate, take, { valid: ok });
      const tokens = tf.where(tf.less(slots, 0), tf.scalar(-1, "int32"), gatherLast(safeCols, tf.maximum(slots, tf.scalar(0, "int32"))));
      tokenParts.push(sortAscending(tokens, seq));
    }
    const cat = (xs: tf.Tensor[]) => (xs.length === 1 ? xs[0]! : tf.concat(xs, 2));
    return { indices: padIndices(cat(tokenParts), topTokens) as tf.Tensor4D, blocks: padIndices(cat(blockParts), topBlocks) as tf.Tensor4D };
  });
  if (returnBlocks) return result;
  result.blocks.dispose();
  return result.indices;
}
