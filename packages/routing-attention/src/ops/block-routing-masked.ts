// MoBA block routing as a masked product, for GPU backends (WebGPU has no synchronous reads, so the
// routing cannot size data-dependent groups there). Queries run in row chunks against the keys they may
// see; the chosen blocks become an additive token mask. With per-token routing the union of the chosen
// blocks of a query chunk is usually every past block, so this does the work of causal dense attention:
// fine on a GPU; on wasm it measured 30× slower than the grouped formulation at seq 8192
// (block-routing-grouped.ts).
import * as tf from "@tensorflow/tfjs";
import { batchMatMul } from "@attnkit/core";
import { detached, type BlockPlan } from "./common";

/** Mask offset: large enough to zero a weight, small enough that BIG − BIG and logit − BIG stay finite. */
const BIG = 1e30;

/** Output `[b, h, seqQ, dv]` for the chosen past blocks `indices: [b, h, seqQ, topK − 1]` (−1 padded). */
export function maskedBlockAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, indices: tf.Tensor, plan: BlockPlan): tf.Tensor4D {
  const { blockSize, topK, scale, blockRows } = plan;
  const [batch, heads, seqQ] = q.shape as number[];
  const seqK = k.shape[2]!;
  const offset = seqK - seqQ!;
  return tf.tidy(() => {
    const qs = q.mul(scale);
    const outs: tf.Tensor[] = [];
    for (let t0 = 0; t0 < seqQ!; t0 += blockRows) {
      const t1 = Math.min(seqQ!, t0 + blockRows);
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
            if (topK === 1) return tf.broadcastTo(localBias, [batch!, heads!, r, k1]);
            // Indicators by comparison, not tf.oneHot: wasm writes int32 bits into a float32 oneHot, and
            // WebGPU cannot transpose an int32 one. Rank 3 at most (WebGPU tiles rank ≥ 5 on the host).
            const blockIds = tf.range(0, nb, 1, "int32");
            // Reduced over the last axis: a cast bool→float on WebGPU is still int data for its transpose.
            const chosen = tf.equal(blockIds.reshape([1, nb, 1]), ix!.reshape([batch! * heads! * r, 1, -1])).cast("float32").sum(-1); // [bhr, nb]
            const expand = tf.equal(blockIds.reshape([nb, 1]), keyBlock.reshape([1, k1])).cast("float32").mul(BIG); // [nb, k1]
            return batchMatMul(chosen, expand).reshape([batch!, heads!, r, k1]).add(localBias);
          });
          const logits = batchMatMul(qs.slice([0, 0, t0, 0], [-1, -1, t1 - t0, -1]), k.slice([0, 0, 0, 0], [-1, -1, k1, -1]), false, true);
          const p = tf.softmax(logits.add(bias));
          return batchMatMul(p, v.slice([0, 0, 0, 0], [-1, -1, k1, -1]));
        }),
      );
    }
    return (outs.length === 1 ? outs[0]! : tf.concat(outs, 2)) as tf.Tensor4D;
  });
}
