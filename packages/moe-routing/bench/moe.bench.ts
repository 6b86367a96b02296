// Cost of the token-graph gates over the plain top-k gate, and of the MoE layer (forward + backward)
// over a dense MLP with the same active parameters, on wasm: 1024 tokens, dModel 256, 8 experts, top-2.
// Targets (issue 7): attention-aware and similarity-aware gates ≤ 1.3× topKGate (attention given);
// MoE forward+backward ≤ 1.5× the dense MLP. Variants are timed in interleaved rounds and each ratio is
// the median of its per-round ratios, so load from other processes hits both sides alike. The gate rows
// also print each gate's FLOPs against topKGate's and the plain 2-D products it must add, which bound
// its ratio from below.
import * as tf from "@tensorflow/tfjs";
import { BenchReport, measure, setupBench } from "@attnkit/bench";
import { activate, batchMatMul } from "@attnkit/core";
import { MoE, attentionAwareGate, similarityAwareGate, topKGate } from "../src/index";

const backend = await setupBench("wasm");
const report = new BenchReport("moe-routing", backend);
const [T, D, E, K, HEADS] = [1024, 256, 8, 2, 4];
const F = 512; // expert hidden width; the dense baseline has K·F = 1024 hidden units (the same active parameters)

const x = tf.randomNormal([T, D], 0, 1, "float32", 1);
const wGate = tf.randomNormal([D, E], 0, 0.1, "float32", 2);
// A causal attention matrix (rows are distributions), as the attention layer before the MoE would give.
const attention = tf.tidy(() => {
  const keep = tf.linalg.bandPart(tf.ones([T, T]), -1, 0).cast("bool");
  return tf.softmax(tf.where(keep, tf.randomNormal([HEADS, T, T], 0, 1, "float32", 3), tf.scalar(-Infinity)));
});
const attentionMean = tf.tidy(() => attention.mean(0));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function interleaved(variants: Record<string, () => tf.TensorContainer>, base: string, rounds: number, reps = 1) {
  const times: Record<string, number[]> = {};
  for (const [name, f] of Object.entries(variants)) {
    await measure(f as never, { warmup: 1, reps: 1 });
    times[name] = [];
  }
  for (let i = 0; i < rounds; i++) for (const [name, f] of Object.entries(variants)) times[name]!.push(await measure(f as never, { warmup: 0, reps }));
  const out: Record<string, { ms: number; ratio: number }> = {};
  for (const name of Object.keys(variants)) {
    out[name] = { ms: median(times[name]!), ratio: median(times[name]!.map((t, i) => t / times[base]![i]!)) };
  }
  return out;
}

// 1. Gates, next to the plain 2-D products they cannot avoid: the attention-aware gate adds A·p
// ([T,T]·[T,E]) to topKGate's work, the similarity-aware gate adds x·xᵀ ([T,D]·[D,T]) and S·p.
const probsForMix = tf.tidy(() => tf.softmax(tf.randomNormal([T, E], 0, 1, "float32", 6)));
const xT = x.transpose();
const mixProduct = "2-D product [T,T]·[T,E]";
const simProduct = "2-D product [T,D]·[D,T]";
const gates = await interleaved(
  {
    topKGate: () => topKGate(x, wGate, { topK: K }),
    "attentionAwareGate [T,T]": () => attentionAwareGate(x, wGate, attentionMean, { topK: K }),
    [`attentionAwareGate [${HEADS},T,T] mean`]: () => attentionAwareGate(x, wGate, attention, { topK: K }),
    "similarityAwareGate dot": () => similarityAwareGate(x, wGate, { topK: K, temperature: 16, causal: true }),
    [mixProduct]: () => tf.matMul(attentionMean, probsForMix),
    [simProduct]: () => tf.matMul(x, xT),
  },
  "topKGate",
  25, // the gates take milliseconds: many rounds of 3 repetitions each, so a preempted run decides nothing
  3,
);
for (const [name, r] of Object.entries(gates)) report.add(`${name} ms`, r.ms, "ms");
report.ratio("attentionAwareGate [T,T] / topKGate", gates["attentionAwareGate [T,T]"]!.ratio, { max: 1.3 });
report.ratio(`attentionAwareGate [${HEADS},T,T] / topKGate`, gates[`attentionAwareGate [${HEADS},T,T] mean`]!.ratio);
report.ratio("similarityAwareGate / topKGate", gates["similarityAwareGate dot"]!.ratio, { max: 1.3 });
// Why the targets are hard: FLOPs against topKGate's x·W (2·T·D·E), and the time of the added products
// alone. A gate can be no faster than topKGate plus its extra product at the 2-D matmul rate.
const flops = { topK: 2 * T * D * E, mix: 2 * T * T * E, sim: 2 * T * T * D };
report.ratio("attentionAwareGate FLOPs / topKGate FLOPs", (flops.topK + flops.mix) / flops.topK);
report.ratio("similarityAwareGate FLOPs / topKGate FLOPs", (flops.topK + flops.mix + flops.sim) / flops.topK);
report.ratio("lower bound attention-aware: 1 + [T,T]·[T,E] product / topKGate", 1 + gates[mixProduct]!.ratio);
report.ratio("lower bound similarity-aware: 1 + [T,D]·[D,T] product / topKGate", 1 + gates[simProduct]!.ratio);
const rate = flops.sim / gates[simProduct]!.ms / 1e6;
report.add("2-D matmul rate ([T,D]·[D,T])", rate, "GFLOP/s");
report.ratio("similarityAwareGate rate / 2-D matmul rate", (flops.topK + flops.mix + flops.sim) / gates["similarityAwareGate dot"]!.ms / 1e6 / rate);

// 2. MoE layer forward + backward against a dense MLP with the same active parameters.
const x3 = x.reshape([1, T, D]);
const layers = {
  "MoE softmax cf 1.25": new MoE({ hiddenUnits: F, numExperts: E, topK: K, seed: 1 }),
  "MoE softmax cf 1.0": new MoE({ hiddenUnits: F, numExperts: E, topK: K, capacityFactor: 1, seed: 1 }),
  "MoE attention cf 1.25": new MoE({ hiddenUnits: F, numExperts: E, topK: K, router: "attention", seed: 1 }),
};
const attention4 = attention.expandDims(0);
for (const [name, l] of Object.entries(layers)) l.apply(name.includes("attention") ? [x3, attention4] : x3);
const dense = {
  w1: tf.variable(tf.randomNormal([D, K * F], 0, 0.05)),
  b1: tf.variable(tf.zeros([K * F])),
  w2: tf.variable(tf.randomNormal([K * F, D], 0, 0.05)),
  b2: tf.variable(tf.zeros([D])),
};
// The dense baseline uses core's batchMatMul, whose gradients stay on wasm's fast 2-D path (tf.matMul's
// transposed products in the backward pass are several times slower).
const denseMlp = (input: tf.Tensor) => input.add(batchMatMul(activate(batchMatMul(input, dense.w1).add(dense.b1), "gelu-tanh"), dense.w2).add(dense.b2));
const target = tf.randomNormal([1, T, D], 0, 1, "float32", 5);
const trainStep = (f: () => tf.Tensor) => () => {
  const { value, grads } = tf.variableGrads(() => f().sub(target).square().mean() as tf.Scalar);
  return [value, ...Object.values(grads)];
};
const train = await interleaved(
  {
    "dense MLP": trainStep(() => denseMlp(x3.reshape([T, D])).reshape([1, T, D])),
    ...Object.fromEntries(Object.entries(layers).map(([name, l]) => [name, trainStep(() => l.apply(name.includes("attention") ? [x3, attention4] : x3) as tf.Tensor)])),
  },
  "dense MLP",
  7,
);
for (const [name, r] of Object.entries(train)) report.add(`${name} fwd+bwd ms`, r.ms, "ms");
report.ratio("MoE (softmax, cf 1.25) fwd+bwd / dense MLP", train["MoE softmax cf 1.25"]!.ratio, { max: 1.5 });
report.ratio("MoE (softmax, cf 1.0) fwd+bwd / dense MLP", train["MoE softmax cf 1.0"]!.ratio);
report.ratio("MoE (attention router, cf 1.25) fwd+bwd / dense MLP", train["MoE attention cf 1.25"]!.ratio);
report.finish();
