// Generation: with each block's cache it gives the same tokens as recomputing the full forward pass,
// greedy and sampled, for every attention kind; no tensors leak; landmarks are inserted; bad options
// throw. cpu and wasm only (whole models; see models.test.ts for why not webgpu).
import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { OptionError } from "@attnkit/core";
import { describeBackends } from "@attnkit/testing";
import { defineModel, generate, supportsCache, type AttentionSpec, type FfnSpec, type ModelSpec } from "../src/index";

const base: ModelSpec = { version: 1, family: "decoder", vocabSize: 32, seqLen: 16, dModel: 16, heads: 2, numLayers: 2, seed: 4 };

const kinds: [string, AttentionSpec, FfnSpec?][] = [
  ["softmax", { kind: "softmax" }],
  ["softmax window", { kind: "softmax", window: 3 }],
  ["linear", { kind: "linear", chunkSize: 4 }],
  ["lightning", { kind: "lightning", chunkSize: 4 }],
  ["gated-deltanet", { kind: "gated-deltanet", chunkSize: 4 }],
  ["gated-deltanet without short convolutions", { kind: "gated-deltanet", chunkSize: 4, convSize: 0 }],
  ["still-hybrid", { kind: "still-hybrid", chunkSize: 4, topK: 1 }],
  ["natsl-hybrid", { kind: "natsl-hybrid", blockSize: 4 }],
  ["block-routing", { kind: "block-routing", blockSize: 4, topK: 2 }],
  ["base-conv", { kind: "base-conv", kernelSize: 3 }],
  ["tempscale (no cache)", { kind: "tempscale" }],
  ["moe softmax router", { kind: "softmax" }, { kind: "moe", hiddenUnits: 16, numExperts: 4, topK: 2 }],
  ["moe similarity router, causal (no cache)", { kind: "softmax" }, { kind: "moe", hiddenUnits: 16, numExperts: 4, topK: 2, router: "similarity" }],
  ["moe attention router (no cache)", { kind: "softmax" }, { kind: "moe", hiddenUnits: 16, numExperts: 4, topK: 2, router: "attention" }],
];

describeBackends(
  "generate",
  () => {
    for (const [name, attention, ffn] of kinds) {
      it(`${name}: cached generation equals full recompute`, async () => {
        const spec: ModelSpec = { ...base, attention, ...(ffn ? { ffn } : {}) };
        const model = defineModel(spec);
        const prompt = [
          [1, 5, 9, 2, 7],
          [3, 3, 8, 0, 6],
        ];
        // A first call creates the tensors a layer keeps between calls (MoE's last routing statistics).
        tf.dispose(model.predict(tf.tensor2d(prompt, undefined, "int32")) as tf.Tensor);
        const before = tf.memory().numTensors;
        const cached = await generate(model, prompt, { maxTokens: 8 });
        expect(tf.memory().numTensors, "tensors left by generate").toBe(before);
        const full = await generate(model, prompt, { maxTokens: 8, useCache: false });
        expect(cached).toEqual(full);
        expect(cached.every((r) => r.length === 8 && r.every((t) => Number.isInteger(t) && t >= 0 && t < 32))).toBe(true);
        const sampledA = await generate(model, prompt[0]!, { maxTokens: 6, temperature: 1.5, topK: 8, seed: 3 });
        const sampledB = await generate(model, prompt[0]!, { maxTokens: 6, temperature: 1.5, topK: 8, seed: 3, useCache: false });
        expect(sampledA).toEqual(sampledB);
        model.dispose();
      });
    }

    it("uses the cache exactly where every layer has one", () => {
      expect(supportsCache({ ...base, attention: { kind: "gated-deltanet" }, attn: { layers: [1] } })).toBe(true);
      expect(supportsCache({ ...base, attention: { kind: "landmark", blockSize: 3 } })).toBe(false);
      expect(supportsCache({ ...base, ffn: { kind: "moe", hiddenUnits: 8, router: "similarity" } })).toBe(false);
    });

    it("inserts landmark tokens where the layout needs them", async () => {
      const spec: ModelSpec = { ...base, vocabSize: 33, landmarkId: 32, attention: { kind: "landmark", blockSize: 3, topK: 1 } };
      const model = defineModel(spec);
      // Prompt of 2 tokens: positions 3, 7, 11 are landmark slots (blockSize + 1 = 4); they are not returned.
      const out = await generate(model, [1, 2], { maxTokens: 9 });
      expect(out).toHaveLength(9);
      const seq = [1, 2];
      for (const t of out) {
        if (seq.length % 4 === 3) seq.push(32);
        seq.push(t);
      }
      expect(seq).toHaveLength(14); // 2 prompt + 9 generated + landmarks at 3, 7, 11
      // Greedy check by hand on the sequence with the landmarks: each generated token is the argmax there.
      const logits = model.predict(tf.tensor2d([seq], undefined, "int32")) as tf.Tensor;
      const argmax = (await logits.argMax(-1).array()) as number[][];
      seq.forEach((t, p) => {
        if (p >= 2 && p % 4 !== 3) expect(t, `token at ${p}`).toBe(argmax[0]![p - 1]);
      });
      model.dispose();
    });

    it("rejects bad arguments", async () => {
      const model = defineModel(base);
      await expect(generate(model, [1, 2], { maxTokens: -1 })).rejects.toThrow(/generate.*maxTokens/);
      await expect(generate(model, [1, 40], { maxTokens: 1 })).rejects.toThrow(/prompt\[1\] must be a token id in \[0, 32\), got 40/);
      await expect(generate(model, [[1, 2], [3]], { maxTokens: 1 })).rejects.toThrow(/equally long/);
      await expect(generate(model, [1], { maxTokens: 1, topk: 3 } as never)).rejects.toThrow(OptionError);
      await expect(generate(model, [1], { maxTokens: 1, temperature: -1 })).rejects.toThrow(/temperature/);
      const encoder = defineModel({ ...base, family: "encoder" });
      await expect(generate(encoder, [1], { maxTokens: 1 })).rejects.toThrow(/must be a decoder, got family 'encoder'/);
      model.dispose();
      encoder.dispose();
    });
  },
  ["cpu", "wasm"],
);
