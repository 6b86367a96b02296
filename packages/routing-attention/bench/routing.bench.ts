// Routing attention on wasm against core's scaledDotProductAttention (the best dense attention) on the
// same inputs, measured side by side in this one process. Targets (issue 4):
// - blockRoutingAttention, seq 8192, block 64, topK 8, 4 heads, dim 64: forward ≥ 4×, forward+backward ≥ 3×
//   faster than causal dense; peak tensor bytes ≤ ¼ of dense;
// - biLevelRoutingAttention2d, 56×56 tokens, grid 7, topK 4: forward ≥ 3× faster than dense;
// - hierarchicalTopK vs flatTopK at seq 8192 (block 64, topBlocks 16, topTokens 256): ≥ 2× faster, and the
//   mean IoU of the two selections on block-structured keys.
import * as tf from "@tensorflow/tfjs";
import { BenchReport, measure, peakBytes, setupBench } from "@attnkit/bench";
import { scaledDotProductAttention } from "@attnkit/core";
import { biLevelRoutingAttention2d, blockRoutingAttention, flatTopK, hierarchicalTopK, indexIoU } from "../src/index";

const backend = await setupBench("wasm");
const report = new BenchReport("routing-attention", backend);
const only = process.env.ROUTING_BENCH?.split(",") ?? ["moba", "bra2d", "hisa"];

if (only.includes("moba")) {
  const [B, H, S, D] = [1, 4, 8192, 64];
  const opts = { blockSize: 64, topK: 8 };
  const q = tf.randomNormal([B, H, S, D], 0, 1, "float32", 1);
  const k = tf.randomNormal([B, H, S, D], 0, 1, "float32", 2);
  const v = tf.randomNormal([B, H, S, D], 0, 1, "float32", 3);
  const r = tf.randomNormal([B, H, S, D], 0, 1, "float32", 4);
  const dense = () => scaledDotProductAttention(q, k, v, { causal: true });
  const ours = () => blockRoutingAttention(q, k, v, opts);
  const grads = (f: (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor) => () => tf.grads((a, b, c) => f(a!, b!, c!).mul(r).sum())([q, k, v]);
  // One warm-up call each (the first call of a process grows the wasm heap), then one timed call: the
  // dense baseline takes seconds at this size. The process CPU time of both calls is kept too: on a shared
  // CPU, wall-time ratios swing with the load, CPU-time ratios much less (wasm runs on one thread).
  const timed = async (name: string, fn: Parameters<typeof measure>[0]) => {
    const c0 = process.cpuUsage();
    const wall = report.add(name, await measure(fn, { warmup: 1, reps: 1 }), "ms");
    const c = process.cpuUsage(c0);
    return { wall, cpu: report.add(`${name} (CPU time, 2 calls)`, (c.user + c.system) / 1000, "ms") };
  };
  const tDense = await timed("moba: dense causal forward", dense);
  const tOurs = await timed("moba: blockRoutingAttention forward", ours);
  const tDenseBwd = await timed("moba: dense causal forward+backward", grads((a, b, c) => scaledDotProductAttention(a, b, c, { causal: true })));
  const tOursBwd = await timed("moba: blockRoutingAttention forward+backward", grads((a, b, c) => blockRoutingAttention(a, b, c, opts)));
  r.dispose();
  const peakDense = report.add("moba: dense causal forward peak", await peakBytes(dense), "B");
  const peakOurs = report.add("moba: blockRoutingAttention forward peak", await peakBytes(ours), "B");
  report.ratio("moba: forward speed-up over dense", tDense.wall / tOurs.wall, { min: 4 });
  report.ratio("moba: forward+backward speed-up over dense", tDenseBwd.wall / tOursBwd.wall, { min: 3 });
  report.ratio("moba: forward speed-up over dense (CPU time)", tDense.cpu / tOurs.cpu);
  report.ratio("moba: forward+backward speed-up over dense (CPU time)", tDenseBwd.cpu / tOursBwd.cpu);
  report.ratio("moba: peak bytes / dense peak bytes", peakOurs / peakDense, { max: 0.25 });
  report.ratio("moba: peak bytes / full score matrix", peakOurs / (B * H * S * S * 4));
  tf.dispose([q, k, v]);
}

if (only.includes("bra2d")) {
  const [B, H, D, side] = [1, 4, 64, 56];
  const q = tf.randomNormal([B, H, side * side, D], 0, 1, "float32", 5);
  const k = tf.randomNormal([B, H, side * side, D], 0, 1, "float32", 6);
  const v = tf.randomNormal([B, H, side * side, D], 0, 1, "float32", 7);
  const scale = (H * D) ** -0.5;
  const tDense = report.add("bra2d: dense forward", await measure(() => scaledDotProductAttention(q, k, v, { scale }), { reps: 3 }), "ms");
  const tOurs = report.add("bra2d: biLevelRoutingAttention2d forward", await measure(() => biLevelRoutingAttention2d(q, k, v, { height: side, width: side, grid: 7, topK: 4 }), { reps: 3 }), "ms");
  report.ratio("bra2d: forward speed-up over dense", tDense / tOurs, { min: 3 });
  tf.dispose([q, k, v]);
}

if (only.includes("hisa")) {
  const [S, D] = [8192, 64];
  const opts = { blockSize: 64, topBlocks: 16, topTokens: 256 };
  const q = tf.randomNormal([1, 1, S, D], 0, 1, "float32", 8);
  // Block-structured keys: every block's keys scatter (σ = 0.25) around the block's own centre.
  const centres = tf.randomNormal([S / opts.blockSize, D], 0, 1, "float32", 9);
  const k = tf.tidy(() => tf.gather(centres, tf.floorDiv(tf.range(0, S, 1, "int32"), tf.scalar(opts.blockSize, "int32"))).add(tf.randomNormal([S, D], 0, 0.25, "float32", 10)).reshape([1, 1, S, D]));
  const tFlat = report.add("hisa: flatTopK", await measure(() => flatTopK(q, k, { topTokens: opts.topTokens }), { reps: 3 }), "ms");
  const tHisa = report.add("hisa: hierarchicalTopK", await measure(() => hierarchicalTopK(q, k, opts), { reps: 3 }), "ms");
  report.ratio("hisa: speed-up over flatTopK", tFlat / tHisa, { min: 2 });
  const iou = tf.tidy(() => indexIoU(hierarchicalTopK(q, k, opts), flatTopK(q, k, { topTokens: opts.topTokens })).mean());
  report.add("hisa: mean IoU vs flat (block-structured keys)", (await iou.data())[0]!, "");
  tf.dispose([q, k, centres, iou]);
}
report.finish();
