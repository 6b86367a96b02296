// A hybrid stack plan: which layers are linear (Lightning, Gated DeltaNet) and which keep softmax
// attention, the TNL decay of each Lightning layer, and the inference memory that the plan implies.
// Then a small stack of the linear layers runs a prompt and generates with the recurrent caches.
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "@attnkit/core";
import { GatedDeltaNet, LightningAttention, transnormerDecay, type RecurrentCache } from "@attnkit/hybrid-attention";

const backend = await initBackend();
console.log(`backend: ${backend}`);
const layers = 8;
const heads = 4;
const headDim = 16;
const context = 8192;

// MiniMax-01 style: 7 Lightning layers to 1 softmax layer; GDN-H1 style: GDN and sliding-window attention alternate.
const plans: Record<string, string[]> = {
  "MiniMax-01 (7:1)": Array.from({ length: layers }, (_, i) => (i % 8 === 7 ? "softmax" : "lightning")),
  "GDN-H1 (alternating)": Array.from({ length: layers }, (_, i) => (i % 2 === 0 ? "gated-delta" : "softmax-window-2048")),
};
for (const [name, plan] of Object.entries(plans)) {
  console.log(`\n${name}`);
  let bytes = 0;
  plan.forEach((kind, i) => {
    const state = kind === "softmax" ? 2 * context * heads * headDim : kind === "softmax-window-2048" ? 2 * 2048 * heads * headDim : kind === "gated-delta" ? heads * headDim * 2 * headDim /* valueDim 2·keyDim */ : heads * headDim * headDim;
    bytes += state * 4;
    const lambda = kind === "lightning" ? `  λ = ${transnormerDecay({ heads, layers, layerIndex: i }).map((l) => l.toFixed(4)).join(", ")}` : "";
    console.log(`  layer ${i}: ${kind.padEnd(19)} cache ${(state * 4 / 1024).toFixed(0).padStart(5)} KiB at ${context} tokens${lambda}`);
  });
  console.log(`  total cache ${(bytes / 1024 / 1024).toFixed(2)} MiB (all-softmax: ${((layers * 2 * context * heads * headDim * 4) / 1024 / 1024).toFixed(2)} MiB)`);
}

// The linear layers of the first plan, run on a prompt and then generating token by token from their caches.
const dModel = heads * headDim;
const stack = [
  ...Array.from({ length: 3 }, (_, i) => new LightningAttention({ numHeads: heads, keyDim: headDim, layers, layerIndex: i, useLrpe: i === 0 })),
  new GatedDeltaNet({ numHeads: heads, keyDim: headDim }),
];
const prompt = tf.randomNormal([1, 32, dModel], 0, 1, "float32", 1);
let caches: (RecurrentCache | null)[] = stack.map(() => null);
let x = prompt;
stack.forEach((layer, i) => {
  const r = layer.callWithCache(x, caches[i]);
  caches[i] = r.cache;
  x = x.add(r.output); // residual
});
const full = stack.reduce((y, layer) => y.add(layer.apply(y) as tf.Tensor), prompt);
console.log(`\nprompt of 32 tokens: max |cached − full forward| = ${((await tf.max(tf.abs(full.sub(x))).data())[0]!).toExponential(2)}`);
let token = x.slice([0, 31, 0], [1, 1, dModel]);
const t0 = performance.now();
for (let step = 0; step < 16; step++) {
  let y = token;
  caches = caches.map((cache, i) => {
    const r = stack[i]!.callWithCache(y, cache);
    y = y.add(r.output);
    return r.cache;
  });
  token = y;
}
await token.data();
console.log(`generated 16 tokens in ${(performance.now() - t0).toFixed(0)} ms; cache positions ${caches.map((c) => c!.position).join(", ")}`);
