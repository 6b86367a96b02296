// Compose a small hybrid decoder from a plain-JSON spec (Gated DeltaNet, softmax attention at layers 1
// and 3, as flash-linear-attention's `attn` plan), train it briefly on a repeating byte pattern, then
// generate with the blocks' caches and check that it matches recomputing the full forward pass.
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "@attnkit/core";
import { defineModel, generate, lmLoss, oneHotTargets, type ModelSpec } from "@attnkit/models";

const backend = await initBackend();
const spec: ModelSpec = {
  version: 1,
  family: "decoder",
  vocabSize: 64,
  seqLen: 32,
  dModel: 32,
  heads: 2,
  numLayers: 4,
  attention: { kind: "gated-deltanet", chunkSize: 16 },
  attn: { layers: [1, 3], attention: { kind: "softmax" } },
  seed: 1,
};
const model = defineModel(spec);
console.log(`backend ${backend}; ${model.countParams()} parameters; layers:`, [0, 1, 2, 3].map((i) => model.getLayer(`block${i}_attn`).getClassName()).join(", "));

// The pattern 0 1 2 … 7 repeated: after a few steps the model continues it.
const text = Array.from({ length: 33 * 4 }, (_, i) => i % 8);
const rows = [0, 1, 2, 3].map((r) => text.slice(r * 33, r * 33 + 33));
const x = tf.tensor2d(rows.map((r) => r.slice(0, 32)), undefined, "int32");
const y = oneHotTargets(rows.map((r) => r.slice(1)), spec.vocabSize);
model.compile({ optimizer: tf.train.adam(1e-2), loss: lmLoss });
const history = await model.fit(x, y, { epochs: 20, batchSize: 4, verbose: 0 });
const losses = history.history.loss as number[];
console.log(`loss ${losses[0]!.toFixed(3)} → ${losses[losses.length - 1]!.toFixed(3)} after ${losses.length} steps`);

const prompt = [3, 4, 5];
const cached = await generate(model, prompt, { maxTokens: 10 });
const full = await generate(model, prompt, { maxTokens: 10, useCache: false });
console.log(`prompt ${prompt.join(" ")} → ${cached.join(" ")}`);
console.log(`cached generation equals full recompute: ${JSON.stringify(cached) === JSON.stringify(full)}`);
