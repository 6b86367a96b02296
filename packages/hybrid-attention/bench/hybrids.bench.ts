// STILL and NAtS-L forward passes on wasm next to core's dense causal attention, in one process (4 heads,
// dim 64, seq 2048, the official chunk/block size 64). The issue sets no speed target for the hybrids:
// these are measurements. Both ops are O(seq²) like dense attention here (their exact-attention parts
// are evaluated with masks over all keys), so the interesting numbers are the constant factors.
import * as tf from "@tensorflow/tfjs";
import { BenchReport, measure, setupBench } from "@attnkit/bench";
import { scaledDotProductAttention } from "@attnkit/core";
import { npMap, stillAttention, tokenHybridAttention } from "../src/index";

const backend = await setupBench("wasm");
const report = new BenchReport("hybrid-still-natsl", backend);
const [H, D, T, C] = [4, 64, 2048, 64];
const q = tf.randomNormal([1, H, T, D], 0, 1, "float32", 1);
const k = tf.randomNormal([1, H, T, D], 0, 1, "float32", 2);
const v = tf.randomNormal([1, H, T, D], 0, 1, "float32", 3);
const fq = npMap(q);
const fk = npMap(k);
const alpha = tf.randomUniform([1, H, T], 0.9, 1, "float32", 4);
const beta = tf.randomUniform([1, H, T], 0, 1, "float32", 5);
const route = tf.tensor(Array.from({ length: H * (T / C) }, (_, i) => i % 2), [1, H, T / C]);

const tDense = await measure(() => scaledDotProductAttention(q, k, v, { causal: true }), { warmup: 1, reps: 3 });
const tStill = await measure(() => stillAttention(q, k, v, { fq, fk, chunkSize: C, topK: 4 }), { warmup: 1, reps: 3 });
const tNatsl = await measure(() => tokenHybridAttention(q, k, v, { alpha, beta, route, blockSize: C }), { warmup: 1, reps: 2 });
report.add(`dense causal forward seq ${T}`, tDense, "ms");
report.add(`stillAttention forward seq ${T} (C ${C}, topK 4)`, tStill, "ms");
report.add(`tokenHybridAttention forward seq ${T} (block ${C}, half the blocks softmax)`, tNatsl, "ms");
report.add("stillAttention / dense", tStill / tDense, "x");
report.add("tokenHybridAttention / dense", tNatsl / tDense, "x");
report.finish();
