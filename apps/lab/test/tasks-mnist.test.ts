import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@attnkit/core";
import { defineModel, preset, type VisionModelSpec } from "@attnkit/models";
import { createMnistTask } from "../src/tasks/mnist";
import type { Task } from "../src/tasks/task";
import { lossesOnOneBatch } from "./lab-helpers";

const vit = (): VisionModelSpec => ({ ...preset("vit-tiny"), patchSize: 7, stages: [{ dModel: 16, heads: 2, numLayers: 1 }], seed: 1 });
const bra = (): VisionModelSpec => ({
  ...preset("biformer-tiny"),
  patchSize: 4,
  seed: 1,
  stages: [{ dModel: 16, heads: 2, numLayers: 1, attention: { kind: "bi-level-routing", grid: 7, topK: 2, lceKernel: 3 } }],
});

async function take(task: Task, count: number, position?: unknown): Promise<{ data: number[][]; position: unknown }> {
  const s = task.stream({ batch: 4, seed: 9, ...(position === undefined ? {} : { position }) });
  const data: number[][] = [];
  for (let i = 0; i < count; i++) {
    const b = s.next();
    data.push([...(await b.inputs.data()).slice(0, 2000), ...(await b.labels.data())]);
    tf.dispose([b.inputs, b.labels]);
  }
  return { data, position: s.position() };
}

beforeAll(async () => {
  await initBackend({ prefer: ["wasm", "cpu"], quiet: true });
});

describe("mnist task", () => {
  it("streams deterministic digit batches and resumes exactly from position()", async () => {
    const task = createMnistTask();
    const a = await take(task, 3);
    expect((await take(task, 3)).data).toEqual(a.data);
    const first = await take(task, 1);
    const rest = await take(task, 2, JSON.parse(JSON.stringify(first.position)));
    expect(rest.data).toEqual(a.data.slice(1));
    const b = task.stream({ batch: 4, seed: 9 }).next();
    expect(b.inputs.shape).toEqual([4, 28, 28, 1]);
    expect(b.inputs.dtype).toBe("float32");
    expect(b.labels.shape).toEqual([4]);
    expect(b.labels.dtype).toBe("int32");
    expect(b.tokens).toBe(4);
    const [lo, hi] = [(await b.inputs.min().data())[0]!, (await b.inputs.max().data())[0]!];
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    tf.dispose([b.inputs, b.labels]);
  });

  it("has a finite loss that drops after a few optimizer steps", async () => {
    const task = createMnistTask();
    const model = defineModel(task.adaptSpec(vit()));
    const losses = await lossesOnOneBatch(task, model, { batch: 16, seed: 1, lr: 1e-2, steps: 10 });
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.8);
  });

  it("evaluates test accuracy and loss", async () => {
    const task = createMnistTask({ testImages: 40 });
    const rows = await task.evaluate(defineModel(task.adaptSpec(vit())), { seed: 0, batch: 8, step: 3 });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: "eval", step: 3, length: null });
    expect(rows[0]!.metrics.accuracy).toBeGreaterThanOrEqual(0);
    expect(rows[0]!.metrics.accuracy).toBeLessThanOrEqual(1);
    expect(Number.isFinite(rows[0]!.metrics.loss)).toBe(true);
  });

  it("inspect counts the routed regions of every bi-level routing layer", async () => {
    const task = createMnistTask({ inspectImages: 8 });
    const result = await task.inspect!(defineModel(task.adaptSpec(bra())), { seed: 0, batch: 8, step: 1 });
    expect(result.charts).toHaveLength(1);
    const chart = result.charts![0]!;
    expect(chart.kind).toBe("heatmap");
    expect(chart.data).toHaveLength(49);
    const total = chart.data.reduce((s, d) => s + (d.share as number), 0);
    expect(total).toBeCloseTo(1, 6);
    const row = result.tables![0]!.rows[0]!;
    expect(row[2]).toBe(2);
    expect(row[3] as number).toBeGreaterThanOrEqual(0);
    expect(row[3] as number).toBeLessThanOrEqual(1);
    expect(await task.inspect!(defineModel(task.adaptSpec(vit())), { seed: 0, batch: 8, step: 1 })).toEqual({});
  });

  it("adaptSpec fills the image and classes and rejects text models", () => {
    const task = createMnistTask();
    expect(task.adaptSpec({ ...vit(), numClasses: 3 })).toMatchObject({ numClasses: 10, image: { height: 28, width: 28, channels: 1 } });
    expect(() => task.adaptSpec(preset("dense"))).toThrow(/needs a vision model/);
    expect(() => createMnistTask({ testImages: 0 })).toThrow(/testImages/);
    expect(() => createMnistTask({ images: 3 })).toThrow(/images/);
  });
});
