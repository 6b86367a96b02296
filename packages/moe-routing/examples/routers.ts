// One MoE layer with each router on the same tokens: expert loads, routing entropy, dropped tokens,
// and how often the graph gates pick a different top-1 expert than the plain softmax gate.
// Run: npx tsx packages/moe-routing/examples/routers.ts
import * as tf from "@tensorflow/tfjs";
import { initBackend, scaledDotProductAttention } from "@attnkit/core";
import { MoE, attentionAwareGate, routingFluctuation, similarityAwareGate, topKGate } from "@attnkit/moe-routing";

const backend = await initBackend();
console.log(`backend: ${backend}`);

const [tokens, dModel, heads] = [64, 32, 4];
const x = tf.randomNormal([1, tokens, dModel], 0, 1, "float32", 7);
// The attention of the layer that feeds the MoE (here: plain causal self-attention on x).
const qkv = x.reshape([1, tokens, heads, dModel / heads]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
const { weights: attention } = scaledDotProductAttention(qkv, qkv, qkv, { causal: true, returnWeights: true });

// Expert loads per router (for the docs' bar chart).
export const loads: Record<string, number[]> = {};
for (const router of ["softmax", "similarity", "attention"] as const) {
  const layer = new MoE({ hiddenUnits: 64, numExperts: 8, topK: 2, router, similarity: "cosine", temperature: 0.5, causal: true, seed: 1 });
  const y = layer.apply(router === "attention" ? [x, attention] : x) as tf.Tensor;
  const s = (await layer.routingStats())!;
  loads[router] = s.load;
  console.log(
    `${router.padEnd(10)} load ${s.load.map((v) => v.toFixed(2)).join(" ")} | entropy ${s.entropy.toFixed(3)} nats | ` +
      `balance loss ${s.balanceLoss.toFixed(3)} | dropped ${s.dropped}/${s.assignments}`,
  );
  y.dispose();
  layer.dispose();
}

// The same comparison with the functional gates, and the routing fluctuation between them.
const tokensX = x.reshape([tokens, dModel]);
const wGate = tf.randomNormal([dModel, 8], 0, 0.3, "float32", 3);
const plain = topKGate(tokensX, wGate, { topK: 2 });
const bySimilarity = similarityAwareGate(tokensX, wGate, { topK: 2, kind: "cosine", temperature: 0.5, causal: true });
const byAttention = attentionAwareGate(tokensX, wGate, attention.reshape([heads, tokens, tokens]), { topK: 2 });
for (const [name, g] of [["similarity", bySimilarity], ["attention", byAttention]] as const) {
  const f = await routingFluctuation(plain.indices, g.indices);
  console.log(`${name} gate vs softmax gate: top-1 differs for ${(100 * f.top1).toFixed(0)}% of tokens, top-2 set for ${(100 * f.set).toFixed(0)}%`);
}
tf.dispose([x, qkv, attention, tokensX, wGate, ...Object.values(plain), ...Object.values(bySimilarity), ...Object.values(byAttention)]);
