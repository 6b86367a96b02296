import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@attnkit/core";
import { defineModel, preset, type TextModelSpec } from "@attnkit/models";
import { meanPairwiseCosine } from "@attnkit/temperature-softmax";
import { collapsePassages, createCollapseTask } from "../src/tasks/collapse";
import { lossesOnOneBatch } from "./lab-helpers";

const fixed = { kind: "tempscale", temperatureMode: "fixed", temperature: 1 } as const;
const tiny = (): TextModelSpec => preset("tempscale-encoder", { numLayers: 1, dModel: 16, heads: 2, position: "learned", seed: 5, attention: fixed });
const task = () => createCollapseTask({ trainLengths: [16, 32], taus: [1, 0.8], passages: 6, sigmaPassages: 2 });

beforeAll(async () => {
  await initBackend({ prefer: ["wasm", "cpu"], quiet: true });
});

describe("collapse task", () => {
  it("streams deterministic contrastive pairs and resumes exactly from position()", async () => {
    const t = task();
    const read = async (position?: unknown, count = 3) => {
      const s = t.stream({ batch: 3, seed: 8, ...(position === undefined ? {} : { position }) });
      const out: unknown[] = [];
      for (let i = 0; i < count; i++) {
        const b = s.next();
        const [n, len] = b.inputs.shape;
        expect(n).toBe(6);
        expect([16, 32]).toContain(len);
        expect(b.inputs.dtype).toBe("int32");
        expect(b.labels.shape).toEqual([6]);
        expect(b.labels.dtype).toBe("int32");
        expect(await b.labels.array()).toEqual([3, 4, 5, 0, 1, 2]);
        // Partners are two crops of one address, the second starting half a crop after the first.
        const rows = (await b.inputs.array()) as number[][];
        for (let i = 0; i < 3; i++) expect(rows[3 + i]!.slice(0, len! / 2)).toEqual(rows[i]!.slice(len! / 2));
        expect(b.tokens).toBe(6 * len!);
        out.push(await b.inputs.array());
        tf.dispose([b.inputs, b.labels]);
      }
      return { out, position: s.position() };
    };
    const a = await read();
    expect((await read()).out).toEqual(a.out);
    const one = await read(undefined, 1);
    expect((await read(JSON.parse(JSON.stringify(one.position)), 2)).out).toEqual(a.out.slice(1));
  });

  it("has a finite contrastive loss that drops after a few optimizer steps", async () => {
    const t = task();
    const model = defineModel(t.adaptSpec(tiny()));
    const losses = await lossesOnOneBatch(t, model, { batch: 4, seed: 1, lr: 1e-2, steps: 12 });
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.8);
  });

  it("evaluates cosine, σ_a and DC energy per length and τ; τ = 1 matches the model's own embeddings", async () => {
    const t = task();
    const model = defineModel(t.adaptSpec(tiny()));
    const rows = await t.evaluate(model, { seed: 3, batch: 4, step: 2, lengths: [16, 32] });
    expect(rows.map((r) => [r.variant, r.length])).toEqual([
      ["tau=1", 16],
      ["tau=1", 32],
      ["tau=0.8", 16],
      ["tau=0.8", 32],
    ]);
    for (const r of rows) {
      expect(r.metrics.cosine).toBeGreaterThanOrEqual(-1);
      expect(r.metrics.cosine).toBeLessThanOrEqual(1);
      expect(r.metrics.sigmaA).toBeGreaterThan(0);
      expect(r.metrics.dcEnergy).toBeGreaterThan(0);
      expect(r.metrics.dcEnergy).toBeLessThanOrEqual(1);
    }
    // The same passages through the trained model itself give the τ = 1 cosine.
    const passages = collapsePassages(32, 6, 3 + 7919 * 2);
    const pooled = model.predict(tf.tensor2d(passages, undefined, "int32")) as tf.Tensor;
    expect(rows[1]!.metrics.cosine).toBeCloseTo(meanPairwiseCosine((await pooled.array()) as number[][]), 5);
    pooled.dispose();
    await expect(t.evaluate(model, { seed: 3, batch: 4, step: 2, lengths: [64] })).rejects.toThrow(/exceeds the learned position table/);
    // A sharper softmax lets more of the non-mean signal through.
    expect(rows[3]!.metrics.sigmaA).toBeGreaterThan(rows[1]!.metrics.sigmaA!);
  });

  it("adaptSpec needs fixed-τ TempScale attention in an encoder", () => {
    const spec = task().adaptSpec(tiny()) as TextModelSpec;
    expect(spec.seqLen).toBe(32);
    expect(spec.vocabSize).toBeGreaterThan(60);
    expect(() => task().adaptSpec(preset("dense"))).toThrow(/needs an encoder/);
    expect(() => task().adaptSpec(preset("tempscale-encoder"))).toThrow(/temperatureMode: 'fixed'/);
    expect(() => task().adaptSpec({ ...tiny(), attention: { kind: "softmax" } })).toThrow(/tempscale/);
    expect(() => createCollapseTask({ taus: [0] })).toThrow(/taus\[0\]/);
    expect(() => createCollapseTask({ trainLengths: [] })).toThrow(/trainLengths/);
  });
});
