// Initialise the best backend, run core attention at a few sizes and print backend, shapes and timing.
// (This is the README's main job until the lab app exists.)
import * as tf from "@tensorflow/tfjs";
import { backendInfo, initBackend, scaledDotProductAttention } from "@attnkit/core";

tf.env().set("PROD", true);
const backend = await initBackend();
const info = backendInfo();
console.log(`backend: ${backend}${info.adapter ? ` (adapter: ${info.adapter}, ${info.hardware ? "hardware" : "software"})` : ""}`);
for (const reason of info.skipped) console.log(`  skipped ${reason}`);

for (const [batch, heads, seq, dim] of [[1, 4, 256, 64], [2, 4, 1024, 64], [1, 8, 2048, 64]] as const) {
  const q = tf.randomNormal([batch, heads, seq, dim], 0, 1, "float32", 1);
  const k = tf.randomNormal([batch, heads, seq, dim], 0, 1, "float32", 2);
  const v = tf.randomNormal([batch, heads, seq, dim], 0, 1, "float32", 3);
  const run = () => scaledDotProductAttention(q, k, v, { causal: true });
  await run().data(); // warm-up: shader compilation, wasm memory growth
  const t0 = performance.now();
  const out = run();
  await out.data();
  const ms = performance.now() - t0;
  const gflops = (2 * batch * heads * seq * seq * dim) / ms / 1e6; // causal: half of 4·b·h·s²·d
  console.log(`causal attention q,k,v [${q.shape.join(", ")}] -> [${out.shape.join(", ")}]: ${ms.toFixed(1)} ms, ${gflops.toFixed(1)} GFLOP/s`);
  tf.dispose([q, k, v, out]);
}
