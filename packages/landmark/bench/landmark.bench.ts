// Landmark attention on wasm against core's dense attention, measured side by side in one process.
// Targets (issue 6): retrieval over a 16384-token memory (block 64, topK 4, a 256-token chunk) ≥ 5×
// faster than dense attention of the chunk over the same memory; training-time grouped attention at
// seq 2048 ≤ 2× the time of dense causal attention (forward, and forward+backward reported).
import * as tf from "@tensorflow/tfjs";
import { BenchReport, measure, setupBench } from "@attnkit/bench";
import { scaledDotProductAttention } from "@attnkit/core";
import { landmarkAttention, landmarkRetrievalAttention } from "../src/index";

const backend = await setupBench("wasm");

/**
 * Medians of `a` and `b` measured in alternation (one call each per round, after a warm-up), so that a
 * change of machine load between them does not skew the ratio (the CPU here is shared).
 */
async function sideBySide(a: () => tf.Tensor, b: () => tf.Tensor, rounds = 3): Promise<[number, number]> {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < rounds; i++) {
    ta.push(await measure(a, { warmup: i === 0 ? 1 : 0, reps: 1 }));
    tb.push(await measure(b, { warmup: i === 0 ? 1 : 0, reps: 1 }));
  }
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  return [median(ta), median(tb)];
}
const report = new BenchReport("landmark", backend);
const [B, H, D] = [1, 4, 64];

// 1. Retrieval: memory of 16384 tokens in blocks of 64 (63 regular tokens + landmark), chunk of 256.
{
  const blockSize = 63;
  const memoryLength = 16384;
  const chunk = 256;
  const T = memoryLength + chunk;
  const q = tf.randomNormal([B, H, T, D], 0, 1, "float32", 1);
  const k = tf.randomNormal([B, H, T, D], 0, 1, "float32", 2);
  const v = tf.randomNormal([B, H, T, D], 0, 1, "float32", 3);
  const qc = q.slice([0, 0, memoryLength, 0], [-1, -1, -1, -1]);
  const dense = () => scaledDotProductAttention(qc, k, v, { causal: true });
  const [tRetrieval, tDense] = await sideBySide(() => landmarkRetrievalAttention(q, k, v, { blockSize, topK: 4, memoryLength }), dense);
  report.add("retrieval (per-token-and-head), 16384 memory + 256 chunk, topK 4", tRetrieval, "ms");
  report.add("dense causal, 256 queries over 16640 keys", tDense, "ms");
  report.ratio("retrieval speed-up over dense", tDense / tRetrieval, { min: 5 });
  const [tShared, tDense2] = await sideBySide(() => landmarkRetrievalAttention(q, k, v, { blockSize, topK: 4, memoryLength, selection: "max-over-tokens" }), dense);
  report.add("retrieval (max-over-tokens) speed-up over dense", tDense2 / tShared, "×");
  tf.dispose([q, k, v, qc]);
}

// 2. Training-time grouped attention at seq 2048 (block 63 + landmark) against dense causal attention.
{
  const S = 2048;
  const q = tf.randomNormal([B, H, S, D], 0, 1, "float32", 4);
  const k = tf.randomNormal([B, H, S, D], 0, 1, "float32", 5);
  const v = tf.randomNormal([B, H, S, D], 0, 1, "float32", 6);
  const [tGrouped, tDense] = await sideBySide(() => landmarkAttention(q, k, v, { blockSize: 63 }), () => scaledDotProductAttention(q, k, v, { causal: true }));
  report.add("grouped attention forward, seq 2048", tGrouped, "ms");
  report.add("dense causal forward, seq 2048", tDense, "ms");
  report.ratio("grouped / dense causal time (forward)", tGrouped / tDense, { max: 2 });
  const r = tf.randomNormal([B, H, S, D], 0, 1, "float32", 7);
  const gradsOf = (f: (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor) => () => tf.grads((a, b, c) => f(a!, b!, c!).mul(r).sum())([q, k, v]);
  const [tGroupedBwd, tDenseBwd] = await sideBySide(
    gradsOf((a, b, c) => landmarkAttention(a, b, c, { blockSize: 63 })) as unknown as () => tf.Tensor,
    gradsOf((a, b, c) => scaledDotProductAttention(a, b, c, { causal: true })) as unknown as () => tf.Tensor,
    1,
  );
  report.add("grouped attention forward+backward, seq 2048", tGroupedBwd, "ms");
  report.add("dense causal forward+backward, seq 2048", tDenseBwd, "ms");
  report.add("grouped / dense causal time (forward+backward)", tGroupedBwd / tDenseBwd, "×");
  tf.dispose([q, k, v, r]);
}
report.finish();
