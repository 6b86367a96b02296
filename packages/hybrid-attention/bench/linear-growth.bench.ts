// Chunk-mode linear attention on wasm (4 heads, dim 64), all measured in this one process. Targets (issue 5):
// forward+backward time(seq 16384) / time(seq 2048) ≤ 10 for linearAttention, decayLinearAttention and
// gatedDeltaRule (dense attention grows 64×); chunk mode at seq 8192 ≥ 5× faster than core's dense
// scaledDotProductAttention (causal) forward+backward; generation time per token with the recurrent cache
// at position 8192 ≤ 1.3× the time at position 1024.
import * as tf from "@tensorflow/tfjs";
import { BenchReport, measure, setupBench } from "@attnkit/bench";
import { scaledDotProductAttention } from "@attnkit/core";
import { GatedDeltaNet, decayLinearAttention, gatedDeltaRule, linearAttention, type RecurrentCache } from "../src/index";

const backend = await setupBench("wasm");
const report = new BenchReport("hybrid-linear-growth", backend);
const [H, D] = [4, 64];
const decay = [0.99, 0.97, 0.9, 0.8];

type Op = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
const ops: [string, Op][] = [
  ["linearAttention", (q, k, v) => linearAttention(q, k, v, { mode: "chunk" })],
  ["decayLinearAttention", (q, k, v) => decayLinearAttention(q, k, v, { decay, mode: "chunk" })],
  ["gatedDeltaRule", (q, k, v, a, b) => gatedDeltaRule(q, k, v, { logAlpha: a, beta: b, mode: "chunk" })],
];

function inputs(seq: number) {
  const q = tf.randomNormal([1, H, seq, D], 0, 1, "float32", 1);
  const k = tf.randomNormal([1, H, seq, D], 0, 1, "float32", 2);
  const v = tf.randomNormal([1, H, seq, D], 0, 1, "float32", 3);
  const logAlpha = tf.randomUniform([1, H, seq], -0.1, -0.001, "float32", 4);
  const beta = tf.randomUniform([1, H, seq], 0, 1, "float32", 5);
  const r = tf.randomNormal([1, H, seq, D], 0, 1, "float32", 6);
  return { q, k, v, logAlpha, beta, r };
}
const fwdBwd = (f: Op, x: ReturnType<typeof inputs>) => () => tf.grads((q, k, v) => f(q!, k!, v!, x.logAlpha, x.beta).mul(x.r).sum())([x.q, x.k, x.v]);

const short = inputs(2048);
const mid = inputs(8192);
const long = inputs(16384);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const tDense = await measure(() => tf.grads((q, k, v) => scaledDotProductAttention(q!, k!, v!, { causal: true }).mul(mid.r).sum())([mid.q, mid.k, mid.v]), { warmup: 0, reps: 1 });
report.add("dense causal fwd+bwd seq 8192", tDense, "ms");
console.log(`dense fwd+bwd 8192: ${tDense.toFixed(0)} ms`);
// The CPU is shared, so load drifts during a run: after one warm-up per size, the sizes are measured
// side by side in rounds, and the growth ratio is the median of the per-round ratios (a burst of load
// then spoils one round, not the result).
const rounds = 3;
for (const [name, f] of ops) {
  for (const x of [short, mid, long]) await measure(fwdBwd(f, x), { warmup: 0, reps: 1 });
  const times: number[][] = [[], [], []];
  for (let round = 0; round < rounds; round++) {
    times[0]!.push(await measure(fwdBwd(f, short), { warmup: 0, reps: 3 }));
    times[2]!.push(await measure(fwdBwd(f, long), { warmup: 0, reps: 1 }));
    times[1]!.push(await measure(fwdBwd(f, mid), { warmup: 0, reps: 1 }));
  }
  const [t2k, t8k, t16k] = times.map(median) as [number, number, number];
  report.add(`${name} chunk fwd+bwd seq 2048`, t2k, "ms");
  report.add(`${name} chunk fwd+bwd seq 8192`, t8k, "ms");
  report.add(`${name} chunk fwd+bwd seq 16384`, t16k, "ms");
  console.log(`${name}: ${t2k.toFixed(0)} / ${t8k.toFixed(0)} / ${t16k.toFixed(0)} ms (per round 16384/2048: ${times[2]!.map((t, i) => (t / times[0]![i]!).toFixed(2)).join(", ")})`);
  report.ratio(`${name} time(16384) / time(2048)`, median(times[2]!.map((t, i) => t / times[0]![i]!)), { max: 10 });
  report.ratio(`${name} speed-up over dense at 8192`, tDense / t8k, { min: 5 });
}

// Generation: a GatedDeltaNet layer (dModel 256, 4 heads of 64) fed one token at a time from its cache.
const layer = new GatedDeltaNet({ numHeads: H, keyDim: D, valueDim: D });
const dModel = 256;
layer.build([null, null, dModel]);
// Per-token time from a cache at `position`, the two positions measured alternately in 15 rounds (the CPU
// is shared, so a drift in load hits both alike); the ratio is the median of the per-round ratios.
function cacheAt(position: number): RecurrentCache {
  const prefill = tf.randomNormal([1, position, dModel], 0, 1, "float32", 7);
  const { output, cache } = layer.callWithCache(prefill);
  tf.dispose([prefill, output]);
  return cache;
}
const token = tf.randomNormal([1, 1, dModel], 0, 1, "float32", 8);
const steps = 32;
const generate = (cache: RecurrentCache) => () => {
  let c = cache;
  const outs: tf.Tensor[] = [];
  for (let i = 0; i < steps; i++) {
    const r = layer.callWithCache(token, c);
    if (c !== cache) c.state.s.dispose();
    c = r.cache;
    outs.push(r.output);
  }
  return [...outs, c.state.s];
};
const caches = [cacheAt(1024), cacheAt(8192)];
const perToken: number[][] = [[], []];
for (let round = 0; round < 15; round++) {
  for (const i of [0, 1]) perToken[i]!.push((await measure(generate(caches[i]!), { warmup: 1, reps: 3 })) / steps);
}
const g1k = report.add("generation ms/token at position 1024", median(perToken[0]!), "ms");
const g8k = report.add("generation ms/token at position 8192", median(perToken[1]!), "ms");
console.log(`generation ms/token: ${g1k.toFixed(2)} at 1024, ${g8k.toFixed(2)} at 8192 (the state has the same size at every position)`);
report.ratio("generation per-token time 8192 / 1024", median(perToken[1]!.map((t, i) => t / perToken[0]![i]!)), { max: 1.3 });
report.finish();
