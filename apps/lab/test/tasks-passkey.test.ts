import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend, OptionError } from "@attnkit/core";
import { defineModel, preset, type ModelSpec } from "@attnkit/models";
import { expectClose } from "@attnkit/testing";
import { createPasskeyTask, passkeyExamples } from "../src/tasks/passkey";
import { retrievalForward } from "../src/tasks/passkey-eval";
import type { Task } from "../src/tasks/task";
import { lossesOnOneBatch } from "./lab-helpers";

const tiny = { numLayers: 1, dModel: 16, heads: 2, seed: 3 };
const landmarkTask = () => createPasskeyTask({ trainLength: 60, blockSize: 15, topKs: [1, 4], evalExamples: 4 });
const landmarkSpec = (task: Task) => task.adaptSpec(preset("landmark", { ...tiny, attention: { kind: "landmark", blockSize: 15 } }));

async function batchArrays(task: Task, seed: number, count: number, position?: unknown): Promise<{ batches: number[][][][]; positions: unknown[] }> {
  const s = task.stream({ batch: 3, seed, ...(position === undefined ? {} : { position }) });
  const batches: number[][][][] = [];
  const positions: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const b = s.next();
    batches.push([(await b.inputs.array()) as number[][], (await b.labels.array()) as number[][]]);
    tf.dispose([b.inputs, b.labels]);
    positions.push(s.position());
  }
  return { batches, positions };
}

beforeAll(async () => {
  await initBackend({ prefer: ["wasm", "cpu"], quiet: true });
});

describe("passkey task", () => {
  it("streams the same batches for a seed and resumes exactly from position()", async () => {
    const task = landmarkTask();
    const a = await batchArrays(task, 5, 3);
    const b = await batchArrays(task, 5, 3);
    expect(b.batches).toEqual(a.batches);
    const resumed = await batchArrays(task, 5, 2, JSON.parse(JSON.stringify(a.positions[0])));
    expect(resumed.batches).toEqual(a.batches.slice(1));
    const other = await batchArrays(task, 6, 1);
    expect(other.batches[0]).not.toEqual(a.batches[0]);
  });

  it("lays out landmarks and labels the key's second copy and the answer", () => {
    const task = landmarkTask();
    const b = task.stream({ batch: 2, seed: 1 }).next();
    expect(b.inputs.shape).toEqual([2, 64]);
    expect(b.inputs.dtype).toBe("int32");
    expect(b.labels.shape).toEqual([2, 64]);
    expect(b.labels.dtype).toBe("int32");
    expect(b.tokens).toBe(20);
    const ids = b.inputs.arraySync() as number[][];
    const labels = b.labels.arraySync() as number[][];
    ids.forEach((row, r) => {
      row.forEach((t, p) => expect(t === 1).toBe(p % 16 === 15));
      // Every label is the next token of the sequence, and never a landmark.
      labels[r]!.forEach((l, p) => {
        if (l >= 0) {
          expect(l).toBe(row[p + 1]);
          expect(l).not.toBe(1);
        }
      });
    });
    tf.dispose([b.inputs, b.labels]);
    const plain = createPasskeyTask({ trainLength: 60 }).stream({ batch: 1, seed: 1 }).next();
    expect(plain.inputs.shape).toEqual([1, 60]);
    tf.dispose([plain.inputs, plain.labels]);
  });

  it("has a finite loss that drops after a few optimizer steps", async () => {
    const task = createPasskeyTask({ trainLength: 60 });
    const model = defineModel(task.adaptSpec(preset("dense", tiny)));
    const losses = await lossesOnOneBatch(task, model, { batch: 4, seed: 2, lr: 1e-2, steps: 12 });
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.8);
  });

  it("with topK ≥ the memory blocks, retrieval gives the training-time (grouped attention) logits", async () => {
    const task = landmarkTask();
    const spec = landmarkSpec(task);
    const model = defineModel(spec);
    const set = passkeyExamples(60, 15, [11, 12]);
    const queries = set.answerPositions.map((p) => p - 1);
    // 4 blocks of 16 positions: with chunks of one block the memory never holds more than 3.
    const { logits } = await retrievalForward(model, spec as Parameters<typeof retrievalForward>[1], set.ids, { blockSize: 15, topK: 4, batch: 2 }, 16, queries);
    const full = tf.tidy(() => tf.gather(model.predict(tf.tensor2d(set.ids, undefined, "int32")) as tf.Tensor, queries, 1));
    await expectClose(logits, full, { atol: 1e-4, rtol: 1e-3 });
    tf.dispose([logits, full]);
  });

  it("evaluates accuracy and retrieval hit rate per length and topK", async () => {
    const task = landmarkTask();
    const model = defineModel(landmarkSpec(task));
    const rows = await task.evaluate(model, { seed: 0, batch: 4, step: 7, lengths: [60, 120] });
    expect(rows.map((r) => [r.length, r.variant])).toEqual([
      [60, "topK=1"],
      [60, "topK=4"],
      [120, "topK=1"],
      [120, "topK=4"],
    ]);
    for (const r of rows) {
      expect(r.step).toBe(7);
      expect(Object.keys(r.metrics).sort()).toEqual(["accuracy", "digitAccuracy", "hitRate", "hitRateAny", "hitRateChance"]);
      for (const v of Object.values(r.metrics)) expect(v >= 0 && v <= 1).toBe(true);
    }
    const dense = createPasskeyTask({ trainLength: 60, evalExamples: 4 });
    const denseRows = await dense.evaluate(defineModel(dense.adaptSpec(preset("dense", tiny))), { seed: 0, batch: 4, step: 1, quick: true });
    expect(denseRows).toHaveLength(1);
    expect(denseRows[0]!.length).toBe(60);
    expect(Object.keys(denseRows[0]!.metrics).sort()).toEqual(["accuracy", "digitAccuracy"]);
  });

  it("adaptSpec fills the vocabulary, length and landmark id, and rejects what it cannot train", () => {
    const task = landmarkTask();
    const spec = landmarkSpec(task);
    expect(spec).toMatchObject({ vocabSize: 41, seqLen: 64, landmarkId: 1 });
    expect(createPasskeyTask({ trainLength: 60 }).adaptSpec(preset("dense", tiny))).toMatchObject({ vocabSize: 41, seqLen: 60 });
    const bad: [Task, ModelSpec, RegExp][] = [
      [task, preset("tempscale-encoder"), /needs a decoder/],
      [task, preset("dense", tiny), /inserts landmark tokens/],
      [createPasskeyTask({ trainLength: 60 }), preset("landmark", tiny), /needs the option blockSize 15/],
      [createPasskeyTask({ trainLength: 60 }), preset("dense", { ...tiny, position: "learned" }), /'learned'/],
    ];
    for (const [t, s, message] of bad) expect(() => t.adaptSpec(s)).toThrow(message);
    expect(() => createPasskeyTask({ trainLength: 20 })).toThrow(OptionError);
    expect(() => createPasskeyTask({ trainLength: 61, blockSize: 15 })).toThrow(/multiple of blockSize/);
    expect(() => createPasskeyTask({ topK: 2 })).toThrow(OptionError);
  });
});
