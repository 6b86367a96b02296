// The two intra-layer hybrids: STILL (salient tokens keep softmax, the rest go linear through NP-Map
// features) and NAtS-L (softmax or Gated DeltaNet per head and block of tokens), then their layers
// generating token by token from the cache, equal to one full forward pass.
import * as tf from "@tensorflow/tfjs";
import { initBackend, scaledDotProductAttention } from "@attnkit/core";
import { StillHybridAttention, TokenHybridAttention, natslRoute, npMap, stillAttention, tokenHybridAttention } from "@attnkit/hybrid-attention";

const backend = await initBackend();
console.log(`backend: ${backend}`);
const [b, h, t, d] = [1, 2, 96, 16];
const q = tf.randomNormal([b, h, t, d], 0, 1, "float32", 1);
const k = tf.randomNormal([b, h, t, d], 0, 1, "float32", 2);
const v = tf.randomNormal([b, h, t, d], 0, 1, "float32", 3);
const maxDiff = async (x: tf.Tensor, y: tf.Tensor) => (await tf.max(tf.abs(x.sub(y))).data())[0]!.toExponential(2);
const dense = scaledDotProductAttention(q, k, v, { causal: true });

// STILL: chunks of 16, 2 salient tokens per chunk.
const fq = npMap(q);
const fk = npMap(k);
const still = stillAttention(q, k, v, { fq, fk, chunkSize: 16, topK: 2, returnMask: true });
const kept = (await still.salientMask.data()).slice(0, t);
console.log(`STILL salient tokens of head 0: ${Array.from(kept.keys()).filter((i) => kept[i]).join(" ")}`);
console.log(`STILL vs causal softmax: max |diff| ${await maxDiff(still.output, dense)} (older non-salient tokens are linearised)`);
const allSalient = stillAttention(q, k, v, { fq, fk, chunkSize: 16, topK: 16, eps: 0 });
console.log(`STILL with topK = chunkSize vs causal softmax: max |diff| ${await maxDiff(allSalient, dense)}`);

// NAtS-L: a router picks softmax (1) or Gated DeltaNet (0) per head and block of 16 tokens.
const x = tf.randomNormal([b, t, 32], 0, 1, "float32", 4);
const { route } = natslRoute(x, tf.randomNormal([32, 2 * h], 0, 0.3, "float32", 5), { heads: h, blockSize: 16 });
console.log(`NAtS-L routes (1 = softmax): ${JSON.stringify(await route.array())}`);
const gates = { alpha: tf.randomUniform([b, h, t], 0.9, 1, "float32", 6), beta: tf.randomUniform([b, h, t], 0, 1, "float32", 7) };
const hybrid = tokenHybridAttention(q, k, v, { ...gates, route, blockSize: 16, returnBranches: true });
const allSoftmax = tokenHybridAttention(q, k, v, { ...gates, route: tf.onesLike(route), blockSize: 16, returnBranches: true });
console.log(`NAtS-L softmax branch, all blocks routed to softmax vs causal softmax: max |diff| ${await maxDiff(allSoftmax.attention, dense)}`);
console.log(`NAtS-L output [${hybrid.output.shape.join(", ")}], mean |y| ${(await hybrid.output.abs().mean().data())[0]!.toFixed(4)}`);

// Layers: generation with the cache equals one full pass.
const input = tf.randomNormal([1, 24, 32], 0, 1, "float32", 8);
async function generate<C>(layer: tf.layers.Layer & { callWithCache: (x: tf.Tensor, cache: C | null) => { output: tf.Tensor; cache: C } }): Promise<void> {
  const full = layer.apply(input) as tf.Tensor;
  let cache: C | null = null;
  const steps: tf.Tensor[] = [];
  for (let i = 0; i < 24; i++) {
    const r = layer.callWithCache(input.slice([0, i, 0], [1, 1, 32]), cache);
    cache = r.cache;
    steps.push(r.output);
  }
  console.log(`${layer.getClassName()}: token-by-token generation vs full forward, max |diff| ${await maxDiff(tf.concat(steps, 1), full)}`);
}
await generate(new StillHybridAttention({ numHeads: 2, keyDim: 8, chunkSize: 4, topK: 1 }));
await generate(new TokenHybridAttention({ numHeads: 2, keyDim: 8, blockSize: 4 }));
