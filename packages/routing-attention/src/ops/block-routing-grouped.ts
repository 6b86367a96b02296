// MoBA block routing grouped by key block (the idea of moba_efficient.py), for backends with synchronous
// reads and fast 2-D products (wasm, cpu). Gathering topK·blockSize keys per query would cost
// seqQ·topK·blockSize·dim memory; instead every key block attends, in one 2-D product, the queries that
// chose it plus its own queries (causally masked). Each (query, block) pair leaves a normalised partial
// output with its log-sum-exp, and the partials of a query are merged by a log-sum-exp combine.
// The backward pass is written out like flash attention: weights are recomputed per key block from the
// saved log-sum-exp, and dK, dV are accumulated per block.
//
// Work runs one (batch, head) pair at a time (2-D products are 10–40× faster than batched ones on wasm)
// and in query chunks that bound the stacked partials. Group sizes depend on the routing, which is read
// to the host once per call; the plan is reused by the backward pass.
import * as tf from "@tensorflow/tfjs";
import { visibilityBias } from "@attnkit/core";
import { MASKED, type BlockPlan } from "./common";

/** The queries of one chunk that attend one key block: its own queries first (causal), then the choosers. */
interface Group {
  block: number;
  /** Query indices within the pair, own-block queries first. */
  rows: Int32Array;
  /** Own-block queries: how many, and the position in the block of the first one. */
  own: number;
  ownFrom: number;
}

/** Queries [t0, t1) of a pair and where each of their topK partials lies in the chunk's stacked partials. */
interface Chunk {
  t0: number;
  t1: number;
  groups: Group[];
  /** Slot-major `[width, t1 − t0]` rows of the stacked partials; `size` (an empty row) for an unused slot. */
  slots: Int32Array;
  /** Slots per query: topK, or fewer when the chunk's queries have fewer blocks to attend. */
  width: number;
  size: number;
}

/** Groups and slots of queries [t0, t1) of one pair, from its chosen past blocks `past: [seqQ, topK − 1]`. */
function planChunk(past: Int32Array, t0: number, t1: number, offset: number, blockSize: number, topK: number): Chunk {
  const rows = t1 - t0;
  const pastWidth = topK - 1;
  const blocks = Math.floor((offset + t1 - 1) / blockSize) + 1;
  // A query attends its own block and at most blocks − 1 past ones: later slots are always unused.
  const width = Math.min(topK, blocks);
  const members: number[][] = Array.from({ length: blocks }, () => []);
  // Slot s of query t0 + u belongs to group groupOf[s·rows + u] at position posOf[...] (−1: unused).
  const groupOf = new Int32Array(width * rows).fill(-1);
  const posOf = new Int32Array(width * rows);
  const put = (slot: number, block: number, t: number) => {
    groupOf[slot] = block;
    posOf[slot] = members[block]!.push(t) - 1;
  };
  for (let t = t0; t < t1; t++) put(t - t0, Math.floor((offset + t) / blockSize), t);
  const ownCount = members.map((m) => m.length);
  for (let t = t0; t < t1; t++) {
    for (let s = 0; s < width - 1; s++) {
      const block = past[t * pastWidth + s]!;
      if (block >= 0) put((s + 1) * rows + t - t0, block, t);
    }
  }
  const start = new Int32Array(blocks);
  const groups: Group[] = [];
  let size = 0;
  members.forEach((m, block) => {
    if (m.length === 0) return;
    start[block] = size;
    size += m.length;
    const own = ownCount[block]!;
    groups.push({ block, rows: Int32Array.from(m), own, ownFrom: own > 0 ? offset + m[0]! - block * blockSize : 0 });
  });
  const slots = new Int32Array(width * rows);
  for (let i = 0; i < slots.length; i++) slots[i] = groupOf[i]! < 0 ? size : start[groupOf[i]!]! + posOf[i]!;
  return { t0, t1, groups, slots, width, size };
}

/** Chunks of every (batch, head) pair, from the routing `indices: [b, h, seqQ, topK − 1]` read to the host. */
function planPairs(indices: tf.Tensor, seqQ: number, offset: number, plan: BlockPlan): Chunk[][] {
  const { blockSize, topK, blockRows } = plan;
  const all = indices.dataSync() as Int32Array;
  const per = seqQ * (topK - 1);
  const pairs: Chunk[][] = [];
  for (let p = 0; p < indices.shape[0]! * indices.shape[1]!; p++) {
    const past = all.subarray(p * per, (p + 1) * per);
    const chunks: Chunk[] = [];
    for (let t0 = 0; t0 < seqQ; t0 += blockRows) chunks.push(planChunk(past, t0, Math.min(seqQ, t0 + blockRows), offset, blockSize, topK));
    pairs.push(chunks);
  }
  return pairs;
}

// Helpers below return a single tensor from a tidy: TF.js counts every reshaped view as new bytes, and
// intermediate views kept until the end of an outer tidy would inflate the measured peak memory.

/** Pair p of `x: [b, h, s, d]` as `[s, d]` (a gatherND row: wasm's slice reads its whole input). */
function pairOf(x: tf.Tensor, p: number): tf.Tensor2D {
  const [, h, s, d] = x.shape as [number, number, number, number];
  return tf.tidy(() => tf.gatherND(x, [[Math.floor(p / h), p % h]]).reshape([s, d]));
}

/** Key blocks of `x: [s, d]` zero-padded to n·size rows, one block per row: `[n, size·d]`, or `[n, d·size]` transposed. */
function keyBlocks(x: tf.Tensor2D, size: number, n: number, transpose: boolean): tf.Tensor2D {
  return tf.tidy(() => {
    const [s, d] = x.shape;
    const padded = (n * size === s ? x : x.pad([[0, n * size - s], [0, 0]])).reshape([n, size, d]);
    return (transpose ? padded.transpose([0, 2, 1]) : padded).reshape([n, size * d]);
  });
}

const blockAt = (blocks: tf.Tensor2D, j: number, rows: number, cols: number): tf.Tensor2D => tf.tidy(() => tf.gatherND(blocks, [[j]]).reshape([rows, cols]));

/**
 * Scores of a group's queries `qg: [m, d]` (scaled) against its block's keys `kt: [d, size]`; own-block
 * rows see keys up to their own position (which also hides a partial last block's padding).
 */
function groupScores(qg: tf.Tensor2D, kt: tf.Tensor2D, g: Group, causal: tf.Tensor2D | null): tf.Tensor2D {
  const s = tf.matMul(qg, kt) as tf.Tensor2D;
  if (g.own === 0 || causal === null) return s;
  const size = causal.shape[0];
  const own = g.own === size ? causal : causal.slice([g.ownFrom, 0], [g.own, size]);
  return s.add(g.rows.length > g.own ? own.pad([[0, g.rows.length - g.own], [0, 0]]) : own);
}

/** Σ over slots of `parts` rows (stacked, plus an empty row), each slot's rows weighted by `weights[slot]` when given. */
function sumSlots(parts: tf.Tensor2D[], chunk: Chunk, weights: tf.Tensor2D | null): tf.Tensor2D {
  const rows = chunk.t1 - chunk.t0;
  const stacked = tf.concat([...parts, tf.zeros([1, parts[0]!.shape[1]])]);
  tf.dispose(parts);
  let sum: tf.Tensor2D | null = null;
  for (let s = 0; s < chunk.width; s++) {
    // One tidy per slot: only the running sum outlives it.
    const next: tf.Tensor2D = tf.tidy(() => {
      const at = tf.tensor2d(chunk.slots.subarray(s * rows, (s + 1) * rows), [rows, 1], "int32");
      let part = tf.gatherND(stacked, at) as tf.Tensor2D;
      if (weights) part = part.mul(weights.slice([s, 0], [1, rows]).reshape([rows, 1]));
      return sum ? sum.add(part) : part;
    });
    sum?.dispose();
    sum = next;
  }
  stacked.dispose();
  return sum!;
}

/** Causal bias `[size, size]` within a block: 0 where key ≤ query, MASKED elsewhere; null for size 1. */
const causalBias = (size: number): tf.Tensor2D | null => visibilityBias({ causal: true, window: null, offset: 0, seqK: size }, 0, size, 0, size, MASKED);

interface PairForward {
  out: tf.Tensor2D;
  lse: tf.Tensor2D;
}

/** Output `[seqQ, dv]` and log-sum-exp `[seqQ, 1]` of one pair; `qp` is already scaled. */
function pairForward(qp: tf.Tensor2D, kp: tf.Tensor2D, vp: tf.Tensor2D, chunks: Chunk[], plan: BlockPlan, causal: tf.Tensor2D | null): PairForward {
  const { blockSize } = plan;
  const [, d] = qp.shape;
  const dv = vp.shape[1];
  const n = Math.ceil(kp.shape[0] / blockSize);
  const kt = keyBlocks(kp, blockSize, n, true);
  const vb = keyBlocks(vp, blockSize, n, false);
  const outs: tf.Tensor[] = [];
  const lses: tf.Tensor[] = [];
  for (const chunk of chunks) {
    const [out, lse] = tf.tidy(() => {
      const os: tf.Tensor2D[] = [];
      const groupLse: tf.Tensor[] = [];
      for (const g of chunk.groups) {
        const [o, lse] = tf.tidy(() => {
          const qg = tf.gatherND(qp, tf.tensor2d(g.rows, [g.rows.length, 1], "int32")) as tf.Tensor2D;
          const s = groupScores(qg, blockAt(kt, g.block, d, blockSize), g, causal);
          // tf.softmax is one fused kernel on wasm (vectorised exp), 4× faster than tf.exp alone. The
          // partial's log-sum-exp follows from the row max and the largest weight, 1 / Σ exp(s − max).
          const p = tf.softmax(s);
          return [tf.matMul(p, blockAt(vb, g.block, blockSize, dv)), s.max(1, true).sub(p.max(1, true).log())];
        });
        os.push(o as tf.Tensor2D);
        groupLse.push(lse!);
      }
      // Log-sum-exp combine of the normalised partials: out = Σ_slot w·o / Σ_slot w, w = exp(lse_slot − max).
      const rows = chunk.t1 - chunk.t0;
      // Scalars per partial gathered as 1-element rows: gatherND is ~10× faster than gather on wasm.
      const slots = tf.tensor3d(chunk.slots, [chunk.width, rows, 1], "int32");
      const slotLse = tf.gatherND(tf.concat([...groupLse, tf.tensor2d([[MASKED]])]), slots).reshape([chunk.width, rows]);
      const top = slotLse.max(0, true);
      const w = tf.exp(slotLse.sub(top)) as tf.Tensor2D;
      const den = w.sum(0).reshape([rows, 1]);
      return [sumSlots(os, chunk, w).div(den), top.reshape([rows, 1]).add(den.log())];
    });
    outs.push(out!);
    lses.push(lse!);
  }
  return { out: tf.concat(outs) as tf.Tensor2D, lse: tf.concat(lses) as tf.Tensor2D };
}

/** Gradients `[seqQ, d]`, `[seqK, d]`, `[seqK, dv]` of one pair; `qp` is scaled, `dq` comes out scaled back. */
function pairBackward(qp: tf.Tensor2D, kp: tf.Tensor2D, vp: tf.Tensor2D, dop: tf.Tensor2D, op: tf.Tensor2D, lse: tf.Tensor2D, chunks: Chunk[], plan: BlockPlan, causal: tf.Tensor2D | null): tf.Tensor2D[] {
  const { blockSize, scale } = plan;
  const [, d] = qp.shape;
  const [seqK, dv] = vp.shape;
  const n = Math.ceil(seqK / blockSize);
  const kt = keyBlocks(kp, blockSize, n, true);
  const kb = keyBlocks(kp, blockSize, n, false);
  const vt = keyBlocks(vp, blockSize, n, true);
  // rowsum(P ∘ dP) = rowsum(dO ∘ O) per query.
  const dot = dop.mul(op).sum(1, true);
  // dKᵀ and dVᵀ per block ([d, size], [dv, size]): dK = dSᵀ·q taken as (qᵀ·dS)ᵀ touches [d, size] only.
  const dkt: (tf.Tensor | null)[] = new Array(n).fill(null);
  const dvt: (tf.Tensor | null)[] = new Array(n).fill(null);
  const accumulate = (acc: (tf.Tensor | null)[], j: number, x: tf.Tensor) => {
    const prev = acc[j];
    acc[j] = prev ? prev.add(x) : x;
    if (prev) tf.dispose([prev, x]);
  };
  const dqs: tf.Tensor[] = [];
  for (const chunk of chunks) {
    const parts: tf.Tensor2D[] = [];
    for (const g of chunk.groups) {
      const [dq, dk, dvb] = tf.tidy(() => {
        const at = tf.tensor2d(g.rows, [g.rows.length, 1], "int32");
        const qg = tf.gatherND(qp, at) as tf.Tensor2D;
        const dog = tf.gatherND(dop, at) as tf.Tensor2D;
        const s = groupScores(qg, blockAt(kt, g.block, d, blockSize), g, causal);
        const p = tf.exp(s.sub(tf.gatherND(lse, at)));
        const dp = tf.matMul(dog, blockAt(vt, g.block, dv, blockSize));
        const ds = p.mul(dp.sub(tf.gatherND(dot, at)));
        return [tf.matMul(ds, blockAt(kb, g.block, blockSize, d)), tf.matMul(qg.transpose(), ds), tf.matMul(dog.transpose(), p)];
      });
      parts.push(dq as tf.Tensor2D);
      accumulate(dkt, g.block, dk!);
      accumulate(dvt, g.block, dvb!);
    }
    dqs.push(tf.tidy(() => sumSlots(parts, chunk, null).mul(scale)));
  }
  return tf.tidy(() => {
    // Blocks no query attended get zero gradients; the padding of a partial last block is cut off.
    const unblock = (acc: (tf.Tensor | null)[], cols: number) =>
      tf.stack(acc.map((x) => x ?? tf.zeros([cols, blockSize]))).transpose([0, 2, 1]).reshape([n * blockSize, cols]).slice([0, 0], [seqK, cols]);
    const grads = [tf.concat(dqs) as tf.Tensor2D, unblock(dkt, d) as tf.Tensor2D, unblock(dvt, dv) as tf.Tensor2D];
    tf.dispose([kt, kb, vt, dot, ...dkt.filter((x): x is tf.Tensor => x !== null), ...dvt.filter((x): x is tf.Tensor => x !== null)]);
    return grads;
  });
}

const scaledPair = (x: tf.Tensor, p: number, scale: number): tf.Tensor2D => tf.tidy(() => pairOf(x, p).mul(scale));

/** The per-pair results `[s, f]` (disposed) as one `shape` tensor. */
function joinPairs(parts: tf.Tensor[], shape: number[]): tf.Tensor {
  const joined = tf.tidy(() => (parts.length === 1 ? parts[0]!.reshape(shape) : tf.concat(parts).reshape(shape)));
  tf.dispose(parts);
  return joined;
}

/**
 * Output `[b, h, seqQ, dv]` for the chosen past blocks `indices: [b, h, seqQ, topK − 1]` (−1 padded),
 * differentiable with respect to q, k and v (not through the routing).
 */
export function groupedBlockAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, indices: tf.Tensor, plan: BlockPlan): tf.Tensor4D {
  const [batch, heads, seqQ, dim] = q.shape as [number, number, number, number];
  const [, , seqK, dimV] = v.shape as [number, number, number, number];
  const pairs = planPairs(indices, seqQ, seqK - seqQ, plan);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [tq, tk, tv, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const causal = causalBias(plan.blockSize);
    const outs: tf.Tensor[] = [];
    const lses: tf.Tensor[] = [];
    pairs.forEach((chunks, p) => {
      const r = tf.tidy(() => {
        const f = pairForward(scaledPair(tq, p, plan.scale), pairOf(tk, p), pairOf(tv, p), chunks, plan, causal);
        return [f.out, f.lse];
      });
      outs.push(r[0]!);
      lses.push(r[1]!);
    });
    const output = joinPairs(outs, [batch, heads, seqQ, dimV]);
    const lse = joinPairs(lses, [batch, heads, seqQ, 1]);
    causal?.dispose();
    save([tq, tk, tv, output, lse]);
    return {
      value: output,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sq, sk, sv, so, sl] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const back = causalBias(plan.blockSize);
        const grads: tf.Tensor[][] = [[], [], []];
        pairs.forEach((chunks, p) => {
          const g = tf.tidy(() => pairBackward(scaledPair(sq, p, plan.scale), pairOf(sk, p), pairOf(sv, p), pairOf(dy as tf.Tensor, p), pairOf(so, p), pairOf(sl, p), chunks, plan, back));
          g.forEach((x, i) => grads[i]!.push(x));
        });
        back?.dispose();
        const shapes = [[batch, heads, seqQ, dim], [batch, heads, seqK, dim], [batch, heads, seqK, dimV]];
        return grads.map((parts, i) => joinPairs(parts, shapes[i]!));
      },
    };
  });
  return op(q, k, v) as tf.Tensor4D;
}
