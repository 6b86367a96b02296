// Core attention on wasm against the naive TF.js formulation and against the backend's own 2-D matmul
// rate, all measured in this one process. Targets (issue 2): forward ≥ ½ the GFLOP/s of a single 2-D
// matmul of the same FLOPs; forward ≥ 10× and forward+backward ≥ 5× the naive formulation; seq 16384
// with one head runs forward and reports its peak tensor bytes.
import * as tf from "@tensorflow/tfjs";
import { BenchReport, measure, peakBytes, setupBench } from "@attnkit/bench";
import { scaledDotProductAttention } from "@attnkit/core";

const backend = await setupBench("wasm");
const report = new BenchReport("core-attention", backend);
const [B, H, S, D] = [2, 4, 2048, 64];
const scale = D ** -0.5;
const q = tf.randomNormal([B, H, S, D], 0, 1, "float32", 1);
const k = tf.randomNormal([B, H, S, D], 0, 1, "float32", 2);
const v = tf.randomNormal([B, H, S, D], 0, 1, "float32", 3);
const flops = 4 * B * H * S * S * D; // q·kᵀ and p·v

const naive = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.matMul(tf.softmax(tf.matMul(a, b, false, true).mul(scale)), c);
const ours = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => scaledDotProductAttention(a, b, c);

// The backend's own rate: one square 2-D product of the same FLOPs.
const n = Math.round(Math.cbrt(flops / 2));
const ma = tf.randomNormal([n, n]);
const mb = tf.randomNormal([n, n]);
const tMatmul = await measure(() => tf.matMul(ma, mb), { reps: 3 });
const matmulRate = report.add("2-D matmul GFLOP/s", (2 * n ** 3) / tMatmul / 1e6, "GFLOP/s");

const tOurs = await measure(() => ours(q, k, v), { reps: 3 });
const oursRate = report.add("attention forward GFLOP/s", flops / tOurs / 1e6, "GFLOP/s");
report.add("attention forward", tOurs, "ms");
const tNaive = await measure(() => naive(q, k, v), { warmup: 0, reps: 1 });
report.add("naive forward", tNaive, "ms");

const r = tf.randomNormal([B, H, S, D], 0, 1, "float32", 4);
const gradsOf = (f: typeof naive) => () => tf.grads((a, b, c) => f(a!, b!, c!).mul(r).sum())([q, k, v]);
const tOursBwd = await measure(gradsOf(ours), { reps: 3 });
report.add("attention forward+backward", tOursBwd, "ms");
const tNaiveBwd = await measure(gradsOf(naive), { warmup: 0, reps: 1 });
report.add("naive forward+backward", tNaiveBwd, "ms");

report.ratio("forward rate / 2-D matmul rate", oursRate / matmulRate, { min: 0.5 });
report.ratio("forward speed-up over naive", tNaive / tOurs, { min: 10 });
report.ratio("forward+backward speed-up over naive", tNaiveBwd / tOursBwd, { min: 5 });

// Long sequence: one head, seq 16384, forward only; never a full [seq, seq] score matrix.
const L = 16384;
const ql = tf.randomNormal([1, 1, L, D], 0, 1, "float32", 5);
const tLong = await measure(() => scaledDotProductAttention(ql, ql, ql, { causal: true }), { warmup: 0, reps: 1 });
report.add("seq 16384 causal forward", tLong, "ms");
const peak = await peakBytes(() => scaledDotProductAttention(ql, ql, ql, { causal: true }));
report.add("seq 16384 peak tensor bytes", peak, "B");
report.ratio("seq 16384 peak / full score matrix", peak / (L * L * 4), { max: 0.25 });
report.finish();
