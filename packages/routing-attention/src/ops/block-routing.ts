// MoBA causal block routing. Every query token and head gates the complete past blocks by
// q·mean(K_block) and keeps the best topK − 1 of them; the current block is always attended, causally,
// and counts in topK (MoBA footnote 3; `moba_topk - 1` in moba_efficient.py). The last block may be partial.
//
// Formulation: queries run in row chunks against the keys they may see; the routing becomes a block
// mask expanded to tokens. With per-token routing the union of chosen blocks of a query chunk is
// usually every past block, so gathering per token (or per chunk) does no less work on TF.js than a
// masked product; see the bench for the measured cost.
import * as tf from "@tensorflow/tfjs";
import {
  OptionError,
  assertBoolean,
  assertInteger,
  assertKnownOptions,
  batchMatMul,
  checkAttentionInputs,
  resolveScale,
  topKIndices,
} from "@attnkit/core";
import { blockMeans, detached, padIndices } from "./common";

/** Mask offset: large enough to zero a weight, small enough that BIG − BIG and logit − BIG stay finite. */
const BIG = 1e30;

export interface BlockRoutingAttentionOptions {
  /** Tokens per block (the last block may be partial). */
  blockSize: number;
  /** Blocks per query including the current one (topK ≥ 1). */
  topK: number;
  /** Default dim ** -0.5. */
  scale?: number | null;
  /** Also return the chosen past blocks `[b, h, seqQ, topK − 1]`, descending gate, −1 padded. */
  returnIndices?: boolean;
  /** Query rows per chunk (default: score chunks of about 1M elements); does not change the result. */
  blockRows?: number;
}

const NAME = "blockRoutingAttention";
const KEYS = ["blockSize", "topK", "scale", "returnIndices", "blockRows"];

/**
 * Chosen past blocks `[b, h, seqQ, topK − 1]` for queries at key positions offset…offset+seqQ−1:
 * descending gate, ties to the lower block, −1 where fewer past blocks exist. Not differentiated.
 */
export function routeBlocks(q: tf.Tensor, k: tf.Tensor, blockSize: number, topK: number): tf.Tensor {
  return detached([q, k], (qq, kk) => {
    const [, , seqQ] = qq!.shape as number[];
    const seqK = kk!.shape[2]!;
    const offset = seqK - seqQ!;
    const n = Math.ceil(seqK / blockSize);
    const want = topK - 1;
    const take = Math.min(want, n);
    if (take === 0) return padIndices(tf.zeros([...qq!.shape.slice(0, 3), 0], "int32"), want);
    const gate = batchMatMul(qq!, blockMeans(kk!, blockSize), false, true);
    // Only blocks that end before the query's own block may be chosen.
    const own = tf.floorDiv(tf.range(offset, offset + seqQ!, 1, "int32"), tf.scalar(blockSize, "int32")).reshape([-1, 1]);
    const valid = tf.less(tf.range(0, n, 1, "int32").reshape([1, -1]), own);
    return padIndices(topKIndices(gate, take, { valid }), want);
  });
}

export function blockRoutingAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: BlockRoutingAttentionOptions & { returnIndices: true }): { output: tf.Tensor4D; indices: tf.Tensor4D };
export function blockRoutingAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: BlockRoutingAttentionOptions): tf.Tensor4D;
export function blockRoutingAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, options: BlockRoutingAttentionOptions): tf.Tensor4D | { output: tf.Tensor4D; indices: tf.Tensor4D } {
  if (options === undefined || options === null) throw new OptionError(`${NAME}: options with blockSize and topK are required`);
  assertKnownOptions(NAME, options, KEYS);
  const dims = checkAttentionInputs(NAME, q, k, v);
  if (dims.seqQ > dims.seqK) throw new OptionError(`${NAME}: q may not be longer than k (queries are the last tokens of the keys), got ${dims.seqQ} and ${dims.seqK}`);
  assertInteger(NAME, "blockSize", options.blockSize, { min: 1 });
  assertInteger(NAME, "topK", options.topK, { min: 1 });
  const { blockSize, topK } = options;
  const scale = resolveScale(NAME, options.scale, dims.dim ** -0.5);
  const returnIndices = options.returnIndices ?? false;
  assertBoolean(NAME, "returnIndices", returnIndices);
  const { batch, heads, seqQ, seqK } = dims;
  let rows = options.blockRows;
  if (rows === undefined) rows = Math.max(1, Math.floor((1 << 20) / (batch * heads * seqK)));
  else assertInteger(NAME, "blockRows", rows, { min: 1 });
  const blockRows = rows;
  const offset = seqK - seqQ;

  const result = tf.tidy(() => {
    const indices = routeBlocks(q, k, blockSize, topK);
    const qs = q.mul(scale);
    const outs: tf.Tensor[] = [];
    for (let t0 = 0; t0 < seqQ; t0 += blockRows) {
      const t1 = Math.min(seqQ, t0 + blockRows);
      const k1 = offset + t1; // keys beyond the last query of the chunk are never visible
      const nb = Math.ceil(k1 / blockSize);
      // Chosen past blocks → a block mask [b, h, rows, nb] → a token mask over keys [0, k1), plus the
      // current block, causally. Built off the tape: routing is not differentiated.
      // One tidy per chunk: only the chunk's output outlives it, so memory stays at one score chunk.
      outs.push(
        tf.tidy(() => {
          const idx = indices.slice([0, 0, t0, 0], [-1, -1, t1 - t0, -1]);
          const bias = detached([idx], (ix) => {
            // Additive mask: 0 where kept, −BIG elsewhere. The chosen blocks expand to tokens through one
            // 2-D product with a block → token indicator (a gather along the last axis is ~10× slower on
            // wasm), already scaled by BIG so that kept entries come out as exactly BIG − BIG = 0.
            const r = t1 - t0;
            const keyBlock = tf.floorDiv(tf.range(0, k1, 1, "int32"), tf.scalar(blockSize, "int32"));
            const pos = tf.range(offset + t0, offset + t1, 1, "int32").reshape([-1, 1]);
            const keys = tf.range(0, k1, 1, "int32").reshape([1, -1]);
            const local = tf.logicalAnd(tf.lessEqual(keys, pos), tf.equal(keyBlock.reshape([1, -1]), tf.floorDiv(pos, tf.scalar(blockSize, "int32"))));
            const localBias = local.cast("float32").sub(1).mul(BIG); // [r, k1]
            if (topK === 1) return tf.broadcastTo(localBias, [batch, heads, r, k1]);
            // Rank 4 at most: WebGPU's tile/broadcast of rank ≥ 5 falls back to a synchronous read.
            // Indicators by comparison, not tf.oneHot: wasm writes int32 bits into a float32 oneHot, and
            // WebGPU cannot transpose an int32 one. Rank 3 at most (WebGPU tiles rank ≥ 5 on the host).
            const blockIds = tf.range(0, nb, 1, "int32");
            // Reduced over the last axis: a cast bool→float on WebGPU is still int data for its transpose.
            const chosen = tf.equal(blockIds.reshape([1, nb, 1]), ix!.reshape([batch * heads * r, 1, -1])).cast("float32").sum(-1); // [bhr, nb]
            const expand = tf.equal(blockIds.reshape([nb, 1]), keyBlock.reshape([1, k1])).cast("float32").mul(BIG); // [nb, k1]
            return batchMatMul(chosen, expand).reshape([batch, heads, r, k1]).add(localBias);
          });
          const logits = batchMatMul(qs.slice([0, 0, t0, 0], [-1, -1, t1 - t0, -1]), k.slice([0, 0, 0, 0], [-1, -1, k1, -1]), false, true);
          const p = tf.softmax(logits.add(bias));
          return batchMatMul(p, v.slice([0, 0, 0, 0], [-1, -1, k1, -1]));
        }),
      );
    }
    return { output: (outs.length === 1 ? outs[0]! : tf.concat(outs, 2)) as tf.Tensor4D, indices: indices as tf.Tensor4D };
  });
  if (returnIndices) return result;
  result.indices.dispose();
  return result.output;
}
