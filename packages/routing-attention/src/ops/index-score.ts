// Indexer scores shared by the HISA selector and the flat indexer.
import * as tf from "@tensorflow/tfjs";
import { batchMatMul } from "@attnkit/core";

/**
 * Scores of queries `q: [b, h, rows, d]` against keys `k: [b, hk, n, d]`. Without weights: per-head
 * q·k → `[b, h, rows, n]`. With DSA weights `w: [b, rows, h]` (k of 1 or h heads):
 * Σ_j w_j·ReLU(q_j·k) → one shared score `[b, 1, rows, n]`.
 */
export function indexScores(q: tf.Tensor, k: tf.Tensor, weights: tf.Tensor | null): tf.Tensor {
  const [b, h] = q.shape as [number, number];
  const keys = k.shape[1] === h ? k : tf.broadcastTo(k, [b, h, k.shape[2]!, k.shape[3]!]);
  const dots = batchMatMul(q, keys, false, true);
  if (weights === null) return dots;
  return tf.relu(dots).mul(weights.transpose([0, 2, 1]).expandDims(-1)).sum(1, true);
}

/** Query rows per chunk so that one score chunk stays near 4M elements. */
export function rowsPerChunk(batch: number, heads: number, keys: number): number {
  return Math.max(1, Math.floor((1 << 22) / (batch * heads * keys)));
}
