// Checkpoints are written atomically: a crash while writing one, or between its two renames, leaves a
// complete checkpoint that loads.
import { existsSync } from "node:fs";
import { readdir, rename } from "node:fs/promises";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineModel, parseModelSpec } from "@attnkit/models";
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from "../src/engine/checkpoint";
import { CHECKPOINT_DIR } from "../src/run-files";
import { TINY_SPEC, tempDir } from "./lab-helpers";

let backend: string;
beforeAll(async () => {
  backend = tf.getBackend();
  await tf.setBackend("cpu");
});
afterAll(async () => {
  if (backend) await tf.setBackend(backend);
});

async function trainedPair(): Promise<{ model: tf.LayersModel; optimizer: tf.AdamOptimizer }> {
  const model = defineModel(parseModelSpec({ ...TINY_SPEC, seed: 1 }));
  const optimizer = tf.train.adam(0.01);
  const x = tf.tensor2d([[1, 2, 3, 4]], undefined, "int32");
  optimizer.minimize(() => (model.apply(x) as tf.Tensor).square().mean() as tf.Scalar);
  x.dispose();
  return { model, optimizer };
}

describe("checkpoints", () => {
  it("round-trips weights, Adam's state and the position", async () => {
    const dir = await tempDir();
    const { model, optimizer } = await trainedPair();
    await saveCheckpoint(dir, model, optimizer, { step: 7, position: { epoch: 1, batch: 2 }, elapsedMs: 5 });
    const loaded = await loadCheckpoint(dir);
    expect(loaded.state).toEqual({ step: 7, position: { epoch: 1, batch: 2 }, elapsedMs: 5 });
    const weights = await Promise.all(model.getWeights().map((w) => w.data()));
    const restored = await Promise.all(loaded.model.getWeights().map((w) => w.data()));
    expect(restored).toEqual(weights);
    const fresh = tf.train.adam(0.01);
    await loaded.restoreOptimizer(fresh);
    const before = await Promise.all((await optimizer.getWeights()).map((w) => w.tensor.data()));
    const after = await Promise.all((await fresh.getWeights()).map((w) => w.tensor.data()));
    expect(after).toEqual(before);
  });

  it("keeps the previous checkpoint when writing the next one fails midway", async () => {
    const dir = await tempDir();
    const { model, optimizer } = await trainedPair();
    await saveCheckpoint(dir, model, optimizer, { step: 3, position: null, elapsedMs: 0 });
    // The model is written, then reading the optimizer's state fails: a crash mid-checkpoint.
    const broken = Object.create(optimizer) as tf.AdamOptimizer;
    broken.getWeights = () => Promise.reject(new Error("disk full"));
    await expect(saveCheckpoint(dir, model, broken, { step: 4, position: null, elapsedMs: 0 })).rejects.toThrow("disk full");
    expect((await loadCheckpoint(dir)).state.step).toBe(3);
    // The next checkpoint replaces the debris.
    await saveCheckpoint(dir, model, optimizer, { step: 5, position: null, elapsedMs: 0 });
    expect((await loadCheckpoint(dir)).state.step).toBe(5);
    expect((await readdir(dir)).sort()).toEqual([CHECKPOINT_DIR]);
  });

  it("recovers from a crash between the swap's renames", async () => {
    const dir = await tempDir();
    const { model, optimizer } = await trainedPair();
    await saveCheckpoint(dir, model, optimizer, { step: 2, position: null, elapsedMs: 0 });
    // The old checkpoint was moved aside, the new one not yet moved in.
    await rename(path.join(dir, CHECKPOINT_DIR), path.join(dir, ".checkpoint-old"));
    expect(hasCheckpoint(dir)).toBe(true);
    expect((await loadCheckpoint(dir)).state.step).toBe(2);
    expect(existsSync(path.join(dir, CHECKPOINT_DIR))).toBe(true);
  });
});
