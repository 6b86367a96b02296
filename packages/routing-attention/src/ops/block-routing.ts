// MoBA causal block routing. Every query token and head gates the complete past blocks by
// q·mean(K_block) and keeps the best topK − 1 of them; the current block is always attended, causally,
// and counts in topK (MoBA footnote 3; `moba_topk - 1` in moba_efficient.py). The last block may be partial.
//
// Two formulations of the same attention: grouped by key block where the routing can be read back
// synchronously (wasm, cpu: data-dependent group sizes, 2-D products, a written-out backward), a masked
// product on GPUs (WebGPU in Node has no synchronous reads).
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
import { groupedBlockAttention } from "./block-routing-grouped";
import { maskedBlockAttention } from "./block-routing-masked";
import { blockMeans, detached, padIndices } from "./common";

export interface BlockRoutingAttentionOptions {
  /** Tokens per block (the last block may be partial). */
  blockSize: number;
  /** Blocks per query including the current one (topK ≥ 1). */
  topK: number;
  /** Default dim ** -0.5. */
  scale?: number | null;
  /** Also return the chosen past blocks `[b, h, seqQ, topK − 1]`, descending gate, −1 padded. */
  returnIndices?: boolean;
  /**
   * Query rows per chunk; does not change the result. Default: about 1M score elements per chunk for
   * the masked formulation, 4M stacked partial-output elements per (batch, head) pair for the grouped one.
   */
  blockRows?: number;
}

const NAME = "blockRoutingAttention";
const KEYS = ["blockSize", "topK", "scale", "returnIndices", "blockRows"];

/** Gate scores per routing chunk: about 256K, so that routing never holds a whole `[b, h, seqQ, blocks]` gate. */
const GATE_CHUNK = 1 << 18;

/**
 * Chosen past blocks `[b, h, seqQ, topK − 1]` for queries at key positions offset…offset+seqQ−1:
 * descending gate, ties to the lower block, −1 where fewer past blocks exist. Not differentiated.
 */
export function routeBlocks(q: tf.Tensor, k: tf.Tensor, blockSize: number, topK: number): tf.Tensor {
  return detached([q, k], (qq, kk) => {
    const [b, h, seqQ, d] = qq!.shape as [number, number, number, number];
    const seqK = kk!.shape[2]!;
    const n = Math.ceil(seqK / blockSize);
    const want = topK - 1;
    const take = Math.min(want, n);
    if (take === 0) return padIndices(tf.zeros([b, h, seqQ, 0], "int32"), want);
    // Query t may choose the blocks before its own, [0, pastOf(t)).
    const pastOf = (t: number) => Math.floor((seqK - seqQ + t) / blockSize);
    const means = blockMeans(kk!, blockSize);
    const rows = Math.max(1, Math.floor(GATE_CHUNK / (b * h * n)));
    const parts: tf.Tensor[] = [];
    for (let t0 = 0; t0 < seqQ; t0 += rows) {
      const t1 = Math.min(seqQ, t0 + rows);
      // A chunk's queries only need the blocks before the last one's own block.
      const cols = pastOf(t1 - 1);
      const kc = Math.min(take, cols);
      if (kc === 0) {
        parts.push(tf.fill([b, h, t1 - t0, take], -1, "int32"));
        continue;
      }
      parts.push(
        tf.tidy(() => {
          const gate = batchMatMul(queryRows(qq!, t0, t1).reshape([b, h, t1 - t0, d]), means.slice([0, 0, 0, 0], [-1, -1, cols, -1]), false, true);
          // Blocks at or after the query's own get −∞, which topKIndices ranks after every eligible block
          // (its finite floor plus ties to the lower index: the eligible blocks are a prefix). Same result as
          // its `valid` option, whose broadcast `where` costs 20× the gate product on wasm; the masks are
          // built on the host at full shape, since broadcasting is slow there too.
          const idx = topKIndices(gate.add(hostMask(b * h, t0, t1, cols, pastOf, 0, -Infinity).reshape(gate.shape)), kc);
          // Queries of the first blocks have fewer past blocks than slots: −1 in the slots beyond them.
          const marked = pastOf(t0) >= kc ? idx : tf.where(hostMask(b * h, t0, t1, kc, pastOf, 1, 0).reshape(idx.shape).cast("bool"), idx, tf.fill(idx.shape, -1, "int32"));
          return padIndices(marked, take);
        }),
      );
    }
    return padIndices(parts.length === 1 ? parts[0]! : tf.concat(parts, 2), want);
  });
}

/** Rows t0…t1−1 of every (batch, head) of `x: [b, h, s, d]` as `[b·h·(t1 − t0), d]` (gatherND: wasm's slice reads its whole input). */
function queryRows(x: tf.Tensor, t0: number, t1: number): tf.Tensor {
  const [b, h] = x.shape as [number, number];
  const at = new Int32Array(b * h * (t1 - t0) * 3);
  let i = 0;
  for (let bi = 0; bi < b; bi++) for (let hi = 0; hi < h; hi++) for (let t = t0; t < t1; t++) at.set([bi, hi, t], 3 * i++);
  return tf.gatherND(x, tf.tensor2d(at, [i, 3], "int32"));
}

/** `[pairs, t1 − t0, width]` float32: `yes` where column < count(t), `no` elsewhere, repeated for every pair. */
function hostMask(pairs: number, t0: number, t1: number, width: number, count: (t: number) => number, yes: number, no: number): tf.Tensor {
  const one = new Float32Array((t1 - t0) * width).fill(no);
  for (let t = t0; t < t1; t++) one.fill(yes, (t - t0) * width, (t - t0) * width + Math.min(width, count(t)));
  const all = new Float32Array(pairs * one.length);
  for (let p = 0; p < pairs; p++) all.set(one, p * one.length);
  return tf.tensor3d(all, [pairs, t1 - t0, width]);
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
  const { batch, heads, seqK } = dims;
  const grouped = groupsOnHost();
  let rows = options.blockRows;
  if (rows !== undefined) assertInteger(NAME, "blockRows", rows, { min: 1 });
  else if (grouped) rows = Math.max(1, Math.floor((1 << 22) / (Math.min(topK, Math.ceil(seqK / blockSize)) * Math.max(dims.dim, dims.dimV))));
  else rows = Math.max(1, Math.floor((1 << 20) / (batch * heads * seqK)));
  const plan = { blockSize, topK, scale, blockRows: rows };

  const result = tf.tidy(() => {
    const indices = routeBlocks(q, k, blockSize, topK);
    const output = grouped ? groupedBlockAttention(q, k, v, indices, plan) : maskedBlockAttention(q, k, v, indices, plan);
    return { output, indices: indices as tf.Tensor4D };
  });
  if (returnIndices) return result;
  result.indices.dispose();
  return result.output;
}

/** True where the routing can be read back synchronously and 2-D products are the fast path. */
function groupsOnHost(): boolean {
  const backend = tf.getBackend();
  return backend === "wasm" || backend === "cpu";
}
