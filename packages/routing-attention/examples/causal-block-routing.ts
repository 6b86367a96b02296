// Causal block routing (MoBA) on a long sequence: each token attends to its own block (causally) and
// the topK − 1 past blocks whose mean key best matches its query. Compares time and agreement with
// dense causal attention, then generates token by token with the layer's KV cache.
import * as tf from "@tensorflow/tfjs";
import { initBackend, scaledDotProductAttention } from "@attnkit/core";
import { BlockRoutingAttention, blockRoutingAttention } from "@attnkit/routing-attention";

const backend = await initBackend();
console.log(`backend: ${backend}`);

const [heads, seq, dim, blockSize, topK] = [2, 2048, 32, 64, 4];
const q = tf.randomNormal([1, heads, seq, dim], 0, 1, "float32", 1);
const k = tf.randomNormal([1, heads, seq, dim], 0, 1, "float32", 2);
const v = tf.randomNormal([1, heads, seq, dim], 0, 1, "float32", 3);

let t0 = performance.now();
const { output, indices } = blockRoutingAttention(q, k, v, { blockSize, topK, returnIndices: true });
await output.data();
console.log(`blockRoutingAttention seq ${seq}, block ${blockSize}, topK ${topK}: ${(performance.now() - t0).toFixed(0)} ms`);
t0 = performance.now();
const dense = scaledDotProductAttention(q, k, v, { causal: true });
await dense.data();
console.log(`dense causal attention: ${(performance.now() - t0).toFixed(0)} ms`);
const last = (await indices.slice([0, 0, seq - 1, 0], [1, 1, 1, topK - 1]).data()) as Int32Array;
console.log(`the last token (block ${Math.floor((seq - 1) / blockSize)}) also attends to past blocks ${Array.from(last).join(", ")}`);
const gap = tf.tidy(() => output.sub(dense).abs().mean());
console.log(`mean |routed − dense| on random inputs: ${(await gap.data())[0]!.toFixed(4)}`);

// Generation with the layer's KV cache equals its full forward pass.
const layer = new BlockRoutingAttention({ heads: 2, blockSize: 4, topK: 2 });
const x = tf.randomNormal([1, 12, 16], 0, 1, "float32", 4);
const full = layer.apply(x) as tf.Tensor;
let cache = layer.initCache();
const steps: tf.Tensor[] = [];
for (let t = 0; t < 12; t++) {
  const token = x.slice([0, t, 0], [1, 1, 16]);
  const r = layer.step(token, cache);
  cache = r.cache;
  steps.push(r.output);
  token.dispose();
}
const generated = tf.concat(steps, 1);
const diff = tf.tidy(() => generated.sub(full).abs().max());
console.log(`cached generation vs full forward, max |difference| over 12 tokens: ${(await diff.data())[0]!.toExponential(2)}`);
tf.dispose([q, k, v, output, indices, dense, gap, x, full, generated, diff, ...steps, cache.k!, cache.v!]);
