// Routes a small 2-D "image" through bi-level routing attention and prints which regions each region
// attends to. The image has two bright quadrants; their regions should pick each other.
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "@attnkit/core";
import { BiLevelRoutingAttention, biLevelRoutingAttention2d } from "@attnkit/routing-attention";

const backend = await initBackend();
console.log(`backend: ${backend}`);

const [side, grid, heads, dim] = [16, 4, 2, 8];
// Features: a shared pattern in the top-left and bottom-right quadrants, noise elsewhere.
const features = tf.tidy(() => {
  const pattern = tf.randomNormal([dim * heads], 0, 1, "float32", 1);
  const noise = tf.randomNormal([side, side, dim * heads], 0, 0.3, "float32", 2);
  const y = tf.range(0, side).reshape([side, 1, 1]);
  const x = tf.range(0, side).reshape([1, side, 1]);
  const bright = tf.logicalOr(tf.logicalAnd(y.less(side / 2), x.less(side / 2)), tf.logicalAnd(y.greaterEqual(side / 2), x.greaterEqual(side / 2)));
  return noise.add(tf.where(bright, pattern.reshape([1, 1, -1]).mul(2), tf.zeros([1, 1, dim * heads])));
});
// Use the features directly as q = k = v, heads owning consecutive channels.
const qkv = features.reshape([1, side * side, heads, dim]).transpose([0, 2, 1, 3]);
const { output, indices } = biLevelRoutingAttention2d(qkv, qkv, qkv, { height: side, width: side, grid, topK: 3, returnIndices: true });
const routes = (await indices.array()) as number[][][][];
console.log(`${grid}×${grid} regions (row-major ids); each attends to its top 3 regions (head 0, shared routing):`);
for (let r = 0; r < grid * grid; r++) {
  const row = Math.floor(r / grid);
  const col = r % grid;
  console.log(`  region ${String(r).padStart(2)} (row ${row}, col ${col}) → ${routes[0]![0]![r]!.join(", ")}`);
}
console.log(`output shape: [${output.shape.join(", ")}]`);

// The BiFormer block as a layer: qkv projection, routing, gathered attention, LCE, output projection.
const layer = new BiLevelRoutingAttention({ heads, grid, topK: 3 });
const y = layer.apply(features.expandDims(0)) as tf.Tensor;
console.log(`BiLevelRoutingAttention layer: [${y.shape.join(", ")}], ${layer.countParams()} parameters`);
tf.dispose([features, qkv, output, indices, y]);

// For the docs' routing map: the image size, the grid, and each region's routed regions (head 0).
export const routing = { side, grid, routes: routes[0]![0]! };
