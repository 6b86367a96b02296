// Every preset builds, trains one step with a falling loss, and saves/loads to equal outputs; decoder and
// encoder variants; file:// round trip. cpu and wasm only: these run whole transformers, and WebGPU in
// Node runs on a software renderer here, far too slow for full models (every block's own tests cover webgpu).
import * as tf from "@tensorflow/tfjs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { OptionError } from "@attnkit/core";
import { GatedDeltaNet } from "@attnkit/hybrid-attention";
import { MoE } from "@attnkit/moe-routing";
import { describeBackends, expectClose, expectNoLeaks } from "@attnkit/testing";
import { BiLevelRoutingAttention } from "@attnkit/routing-attention";
import { PatchEmbedding, SelfAttention, defineModel, loadModel, modelSpecOf, preset, presetNames, presets, saveModel, type ModelSpec, type VisionModelSpec } from "../src/index";
import { saveToMemory, tokenRows, trainingBatch, twoStepLosses } from "./helpers";

const SEQ = 16;

describeBackends(
  "models",
  () => {
    for (const name of presetNames) {
      it(`preset ${name}: builds, trains one step with a falling loss, saves and loads equal`, async () => {
        const spec: ModelSpec = { ...presets[name], seed: 11 };
        const model = defineModel(spec);
        // Vision models run on 28 × 28 images: one image per batch keeps the test short.
        const rows = tokenRows(spec.family === "vision" ? 1 : 2, SEQ, spec.family === "vision" ? 256 : (spec.landmarkId ?? spec.vocabSize));
        const x = trainingBatch(spec, rows).x;
        const out = model.predict(x) as tf.Tensor;
        expect(out.shape).toEqual(spec.family === "decoder" ? [2, SEQ, spec.vocabSize] : spec.family === "encoder" ? [2, spec.dModel] : [1, (spec as VisionModelSpec).numClasses]);
        out.dispose();
        const [before, after] = await twoStepLosses(model, spec, rows);
        expect(Number.isFinite(before!) && Number.isFinite(after!)).toBe(true);
        expect(after!).toBeLessThan(before!);
        const loaded = await loadModel(await saveToMemory((h) => saveModel(model, h)));
        expect(modelSpecOf(loaded)).toEqual(spec);
        await expectClose(loaded.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor, { atol: 1e-6, rtol: 1e-6 });
        await expectNoLeaks(() => model.predict(x));
        tf.dispose(x);
        model.dispose();
        loaded.dispose();
      });
    }

    it("builds the hybrid plan with the right layer classes", () => {
      const model = defineModel(preset("gated-deltanet-hybrid", { numLayers: 4 }));
      expect(model.getLayer("block0_attn")).toBeInstanceOf(GatedDeltaNet);
      expect(model.getLayer("block1_attn")).toBeInstanceOf(SelfAttention);
      expect(model.getLayer("block2_attn")).toBeInstanceOf(GatedDeltaNet);
      expect(model.getLayer("block3_attn")).toBeInstanceOf(SelfAttention);
      expect(defineModel(preset("moe-softmax")).getLayer("block0_ffn")).toBeInstanceOf(MoE);
    });

    it("passes a graph router's mixing and combine-weight source from the spec to the MoE layer", () => {
      const config = (ffn: object) => defineModel({ ...preset("moe-attention-aware"), ffn: { kind: "moe", hiddenUnits: 16, router: "attention", ...ffn } } as ModelSpec).getLayer("block0_ffn").getConfig();
      expect(config({})).toMatchObject({ mixing: "probs", weightsFrom: "mixed" });
      expect(config({ mixing: "logits", weightsFrom: "own" })).toMatchObject({ mixing: "logits", weightsFrom: "own" });
    });

    it("vision presets: ViT stages use softmax attention, BiFormer stages BRA with patch merging", () => {
      const vit = defineModel(preset("vit-tiny"));
      expect(vit.getLayer("stage0_block0_attn")).toBeInstanceOf(SelfAttention);
      const bif = defineModel(preset("biformer-tiny"));
      expect(bif.getLayer("stage0_block0_attn")).toBeInstanceOf(BiLevelRoutingAttention);
      expect(bif.getLayer("stage1_merge")).toBeInstanceOf(PatchEmbedding);
      expect(bif.getLayer("stage1_merge").outputShape).toEqual([null, 7, 7, 64]);
    });

    it("decoder with learned positions and an untied head", async () => {
      const spec: ModelSpec = { version: 1, family: "decoder", vocabSize: 40, seqLen: 12, dModel: 16, heads: 2, numLayers: 2, position: "learned", tieEmbeddings: false, seed: 3 };
      const model = defineModel(spec);
      expect(model.getLayer("lm_head")).toBeDefined();
      expect(model.getLayer("position_embedding")).toBeDefined();
      const rows = tokenRows(2, 12, 40);
      const [before, after] = await twoStepLosses(model, spec, rows);
      expect(after!).toBeLessThan(before!);
      // Learned positions stop at seqLen.
      expect(() => model.predict(tf.zeros([1, 13], "int32"))).toThrow(/exceed the learned table \(maxLength 12\)/);
    });

    it("decoder output is causal: later tokens do not change earlier logits", async () => {
      const model = defineModel(preset("dense", { numLayers: 2, seed: 5 }));
      const a = tf.tensor2d([[1, 2, 3, 4, 5, 6]], undefined, "int32");
      const b = tf.tensor2d([[1, 2, 3, 9, 9, 9]], undefined, "int32");
      const la = (model.predict(a) as tf.Tensor).slice([0, 0, 0], [1, 3, -1]);
      const lb = (model.predict(b) as tf.Tensor).slice([0, 0, 0], [1, 3, -1]);
      await expectClose(la, lb, { atol: 1e-5, rtol: 1e-5 });
    });

    it("encoder is bidirectional and mean-pooled", async () => {
      const spec: ModelSpec = { version: 1, family: "encoder", vocabSize: 30, seqLen: 8, dModel: 16, heads: 2, numLayers: 2, seed: 2 };
      const model = defineModel(spec);
      const a = model.predict(tf.tensor2d([[1, 2, 3, 4]], undefined, "int32")) as tf.Tensor;
      const b = model.predict(tf.tensor2d([[1, 2, 3, 7]], undefined, "int32")) as tf.Tensor;
      expect(a.shape).toEqual([1, 16]);
      // Changing the last token changes the pooled vector, also through the earlier tokens' attention.
      const diff = await tf.abs(a.sub(b)).max().data();
      expect(diff[0]!).toBeGreaterThan(1e-4);
    });

    it("saves to file:// atomically and loads equal outputs", async () => {
      const dir = await mkdtemp(join(tmpdir(), "attnkit-models-"));
      try {
        const model = defineModel(preset("block-routing", { numLayers: 2, seed: 9 }));
        await saveModel(model, `file://${dir}/m`);
        expect((await readdir(join(dir, "m"))).sort()).toEqual(["model.json", "weights.bin"]);
        const loaded = await loadModel(`file://${dir}/m`);
        const x = tf.tensor2d([tokenRows(1, 20, 256)[0]!.slice(0, 20)], undefined, "int32");
        await expectClose(loaded.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor, { atol: 1e-6, rtol: 1e-6 });
        await expect(loadModel(`file://${dir}/missing`)).rejects.toThrow(/loadModel: no model.json in/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("refuses a saved spec of a newer version and models without a spec", async () => {
      const model = defineModel(preset("dense", { numLayers: 1 }));
      let artifacts: tf.io.ModelArtifacts | null = null;
      await saveModel(model, tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } })));
      const meta = artifacts!.userDefinedMetadata as { attnkitModelSpec: ModelSpec };
      meta.attnkitModelSpec = { ...meta.attnkitModelSpec, version: 7 };
      await expect(loadModel(tf.io.fromMemory(artifacts!))).rejects.toThrow(/saved spec has version 7, newer than this @attnkit\/models understands \(1\)/);
      const plain = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
      await expect(saveModel(plain, "indexeddb://x")).rejects.toThrow(OptionError);
      await expect(loadModel(42 as unknown as string)).rejects.toThrow(/loadModel: url must be a string or a tf.io.IOHandler/);
    });
  },
  ["cpu", "wasm"],
);
