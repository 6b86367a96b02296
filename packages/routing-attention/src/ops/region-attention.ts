// Region-to-region routing and the gathered token-to-token attention shared by 1-D and 2-D BRA.
import * as tf from "@tensorflow/tfjs";
import { batchMatMul, topKIndices } from "@attnkit/core";
import { blockMeans, detached, flatIndex, gatherRows } from "./common";

export type Routing = "per-head" | "shared";
export type SharedScore = "concat" | "mean-vectors";

/**
 * Region indices `[b, h, n, topK]` by descending region score (ties to the lower index). Shared
 * routing ranks one graph for all heads: 'concat' sums the per-head scores (BiFormer's q_r·k_r over
 * all C channels), 'mean-vectors' dots the head-averaged region vectors. Not differentiated.
 */
export function routeRegions(q: tf.Tensor, k: tf.Tensor, regionSize: number, topK: number, routing: Routing, sharedScore: SharedScore): tf.Tensor {
  return detached([q, k], (qq, kk) => {
    const heads = qq!.shape[1]!;
    let qr = blockMeans(qq!, regionSize);
    let kr = blockMeans(kk!, regionSize);
    if (routing === "shared" && sharedScore === "mean-vectors") {
      qr = qr.mean(1, true);
      kr = kr.mean(1, true);
    }
    let scores = batchMatMul(qr, kr, false, true);
    if (routing === "shared" && sharedScore === "concat") scores = scores.sum(1, true);
    const idx = topKIndices(scores, topK);
    return routing === "shared" ? tf.tile(idx, [1, heads, 1, 1]) : idx;
  });
}

/**
 * Each query region attends to the tokens of its routed regions: `q, k: [b, h, n·R, d]`,
 * `v: [b, h, n·R, dv]`, `indices: [b, h, n, topK]` → `[b, h, n·R, dv]`. Keys and values are gathered
 * per region (BiFormer's KVGather), so the work is n·R·topK·R instead of (n·R)².
 */
export function regionAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, indices: tf.Tensor, regionSize: number, scale: number): tf.Tensor {
  const [b, h, s, d] = q.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  const n = s / regionSize;
  const topK = indices.shape[3]!;
  const rows = flatIndex(indices, b, h, n);
  const kg = gatherRows(k.reshape([b * h * n, regionSize * d]) as tf.Tensor2D, rows).reshape([b * h * n, topK * regionSize, d]) as tf.Tensor3D;
  const vg = gatherRows(v.reshape([b * h * n, regionSize * dv]) as tf.Tensor2D, rows).reshape([b * h * n, topK * regionSize, dv]) as tf.Tensor3D;
  const qr = q.mul(scale).reshape([b * h * n, regionSize, d]) as tf.Tensor3D;
  const p = tf.softmax(batchMatMul(qr, kg, false, true)) as tf.Tensor3D;
  return batchMatMul(p, vg).reshape([b, h, s, dv]);
}
